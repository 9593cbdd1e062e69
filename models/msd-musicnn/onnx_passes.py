"""Graph rewrites convert.py applies to tf2onnx's output. Each keeps every output bit for bit.

frequency_pools_as_reducemax: musicnn pools each convolution's whole frequency axis with a
MaxPool of kernel [1, W] on an input of width W. ONNX Runtime runs that as a scalar loop (about
10 % of inference in one `maxss` loop under perf); a ReduceMax over the same axis is the same
maximum of the same numbers, so the outputs are unchanged and inference is cheaper
(benches/python/maxpool_as_reducemax.py measures both).
"""
import onnx
from onnx import helper, shape_inference


def frequency_pools_as_reducemax(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replaces every MaxPool over the whole last axis by ReduceMax(axis 3, keepdims).

    Raises AssertionError on any other MaxPool: those are not a reduction."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {
        vi.name: [d.dim_value or d.dim_param for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    nodes = []
    for n in model.graph.node:
        if n.op_type != "MaxPool":
            nodes.append(n)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        kernel, width = list(attrs["kernel_shape"]), shapes[n.input[0]][3]
        assert kernel == [1, width] and list(attrs.get("strides", kernel)) == kernel, (n.name, kernel, width)
        assert not attrs.get("pads") and len(n.output) == 1, n.name
        if opset >= 18:
            axes = n.name + "_axes"
            model.graph.initializer.append(helper.make_tensor(axes, onnx.TensorProto.INT64, [1], [3]))
            nodes.append(helper.make_node("ReduceMax", [n.input[0], axes], list(n.output), name=n.name + "_as_reducemax", keepdims=1))
        else:
            nodes.append(helper.make_node("ReduceMax", [n.input[0]], list(n.output), name=n.name + "_as_reducemax", axes=[3], keepdims=1))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model
