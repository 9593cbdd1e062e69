//! Writes a trained softmax head as a small ONNX graph (`Gemm` then `Softmax`), encoded by
//! hand: the format is protobuf and the graph has two nodes, so no ONNX library is needed.

use super::softmax::SoftmaxHead;

/// Input and output tensor names of written heads.
pub const HEAD_INPUT: &str = "embedding";
pub const HEAD_OUTPUT: &str = "probabilities";

/// Minimal protobuf writer.
#[derive(Default)]
struct Proto(Vec<u8>);

impl Proto {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u32) {
        self.varint(((field << 3) | wire) as u64);
    }
    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }
    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    fn message(&mut self, field: u32, m: Proto) {
        self.bytes(field, &m.0);
    }
}

const FLOAT: i64 = 1; // TensorProto.DataType.FLOAT

fn tensor(name: &str, dims: &[i64], data: &[f32]) -> Proto {
    let mut t = Proto::default();
    for &d in dims {
        t.int(1, d);
    }
    t.int(2, FLOAT);
    t.string(8, name);
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.bytes(9, &raw);
    t
}

/// ValueInfoProto of a float tensor `[batch, width]` with a symbolic batch.
fn value_info(name: &str, width: i64) -> Proto {
    let mut shape = Proto::default();
    let mut batch = Proto::default();
    batch.string(2, "batch");
    shape.message(1, batch);
    let mut w = Proto::default();
    w.int(1, width);
    shape.message(1, w);
    let mut tensor_type = Proto::default();
    tensor_type.int(1, FLOAT);
    tensor_type.message(2, shape);
    let mut ty = Proto::default();
    ty.message(1, tensor_type);
    let mut vi = Proto::default();
    vi.string(1, name);
    vi.message(2, ty);
    vi
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<Proto>) -> Proto {
    let mut n = Proto::default();
    for i in inputs {
        n.string(1, i);
    }
    n.string(2, output);
    n.string(3, &format!("{op}_0"));
    n.string(4, op);
    for a in attrs {
        n.message(5, a);
    }
    n
}

fn int_attr(name: &str, v: i64) -> Proto {
    let mut a = Proto::default();
    a.string(1, name);
    a.int(3, v);
    a.int(20, 2); // AttributeType.INT
    a
}

fn float_attr(name: &str, v: f32) -> Proto {
    let mut a = Proto::default();
    a.string(1, name);
    a.float(2, v);
    a.int(20, 1); // AttributeType.FLOAT
    a
}

/// ONNX bytes of `softmax(embedding · W + b)`; opset 17, IR version 8.
pub fn head_to_onnx(head: &SoftmaxHead, doc: &str) -> Vec<u8> {
    let mut graph = Proto::default();
    graph.message(
        1,
        node("Gemm", &[HEAD_INPUT, "W", "b"], "logits", vec![float_attr("alpha", 1.0), float_attr("beta", 1.0)]),
    );
    graph.message(1, node("Softmax", &["logits"], HEAD_OUTPUT, vec![int_attr("axis", 1)]));
    graph.string(2, "genre_head");
    graph.message(5, tensor("W", &[head.dim as i64, head.classes as i64], &head.weights));
    graph.message(5, tensor("b", &[head.classes as i64], &head.bias));
    graph.string(10, doc);
    graph.message(11, value_info(HEAD_INPUT, head.dim as i64));
    graph.message(12, value_info(HEAD_OUTPUT, head.classes as i64));
    let mut opset = Proto::default();
    opset.string(1, "");
    opset.int(2, 17);
    let mut model = Proto::default();
    model.int(1, 8);
    model.string(2, "genre-meter");
    model.string(3, env!("CARGO_PKG_VERSION"));
    model.message(7, graph);
    model.message(8, opset);
    model.0
}
