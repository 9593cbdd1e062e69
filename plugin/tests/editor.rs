//! The editor through the CLAP gui extension, embedded in an X11 window the test creates,
//! as a DAW embeds it: it is created, shown, draws, resizes, is hidden and destroyed several
//! times, and leaves no thread behind. Runs on `$DISPLAY`, or starts its own Xvfb; skips
//! (saying so) when neither exists.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clack_extensions::gui::{GuiApiType, GuiConfiguration, GuiSize, PluginGui, Window};
use common::*;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, ImageFormat, WindowClass};
use x11rb::rust_connection::RustConnection;

/// An X server for the test: the session's, or a private Xvfb killed on drop.
struct Display {
    xvfb: Option<Child>,
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(mut x) = self.xvfb.take() {
            let _ = x.kill();
            let _ = x.wait();
        }
    }
}

/// A connection to the session's X server or to a private Xvfb. The Xvfb ends with the
/// last client (`-terminate`), so it cannot outlive a crashed test.
fn display() -> Option<(Display, RustConnection, usize)> {
    if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        && let Ok((conn, screen)) = RustConnection::connect(None)
    {
        return Some((Display { xvfb: None }, conn, screen));
    }
    // `-displayfd 1`: Xvfb picks a free display number and writes it to stdout once ready.
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-terminate", "-screen", "0", "1600x1200x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut line = String::new();
    let stdout = xvfb.stdout.take()?;
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).ok()?;
    let display = Display { xvfb: Some(xvfb) };
    let name = format!(":{}", line.trim().parse::<u32>().ok()?);
    // SAFETY: nextest runs each test in its own process; no other thread reads the
    // environment at this point.
    unsafe { std::env::set_var("DISPLAY", &name) };
    RustConnection::connect(Some(&name)).ok().map(|(conn, screen)| (display, conn, screen))
}

/// Distinct colours in the editor's area of the host window, and the share of that area the
/// editor painted (the host window's own background is black).
fn picture_stats(conn: &RustConnection, window: u32, size: GuiSize) -> (usize, f64) {
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, size.width as u16, size.height as u16, !0)
        .unwrap()
        .reply()
        .unwrap();
    let pixels: Vec<u32> =
        image.data.chunks_exact(4).map(|p| u32::from_le_bytes([p[0], p[1], p[2], 0])).collect();
    let mut colours: Vec<u32> = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    let drawn = pixels.iter().filter(|&&p| p != 0).count() as f64 / pixels.len() as f64;
    (colours.len(), drawn)
}

/// Writes the editor's picture as a binary PPM (for the documentation's screenshots).
fn save_ppm(conn: &RustConnection, window: u32, size: GuiSize, path: &std::path::Path) {
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, size.width as u16, size.height as u16, !0)
        .unwrap()
        .reply()
        .unwrap();
    let mut ppm = format!("P6\n{} {}\n255\n", size.width, size.height).into_bytes();
    for p in image.data.chunks_exact(4) {
        ppm.extend_from_slice(&[p[2], p[1], p[0]]);
    }
    std::fs::write(path, ppm).unwrap();
}

/// Waits (up to 15 s, for a loaded machine) until the editor has painted its area.
fn wait_for_picture(conn: &RustConnection, window: u32, size: GuiSize) -> (usize, f64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (colours, drawn) = picture_stats(conn, window, size);
        if (colours >= 8 && drawn > 0.9) || Instant::now() > deadline {
            return (colours, drawn);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn editor_opens_draws_resizes_and_closes_in_a_host_window_repeatedly() {
    let Some((_display, conn, screen_num)) = display() else {
        skip_test!(ci_provides: true, "no X display and no Xvfb to start (apt-get install xvfb); the editor needs X11");
    };
    let screen = &conn.setup().roots[screen_num];

    let entry = load_entry();
    let mut instance = new_instance(&entry);
    // For the documentation's screenshots: GENRE_METER_EDITOR_MODEL chooses the model,
    // GENRE_METER_EDITOR_PARAMS (state JSON, e.g. `{"hop":{"f32":0.5}}`) sets parameters,
    // GENRE_METER_EDITOR_SCREENSHOT=<file.ppm> saves the first picture.
    let mut state = state_json(&mut instance);
    if let Ok(model) = std::env::var("GENRE_METER_EDITOR_MODEL") {
        state["fields"]["model"] = serde_json::json!(serde_json::to_string(&model).unwrap());
    }
    if let Ok(params) = std::env::var("GENRE_METER_EDITOR_PARAMS") {
        let params: serde_json::Value = serde_json::from_str(&params).expect("GENRE_METER_EDITOR_PARAMS is JSON");
        for (name, value) in params.as_object().expect("a JSON object") {
            state["params"][name] = value.clone();
        }
    }
    load_state_json(&mut instance, &state);
    // Some audio first, so that the meter has bars, history and a verdict to draw.
    let (left, right) = music_clip(48_000, 7.0);
    play(&mut instance, 48_000.0, 512, &[left, right]);
    let threads_before = thread_count();

    let handle = instance.plugin_handle();
    let gui: PluginGui = handle.get_extension().expect("the plugin has the CLAP gui extension");
    let embedded = GuiConfiguration { api_type: GuiApiType::X11, is_floating: false };
    assert!(gui.is_api_supported(&instance.plugin_handle(), embedded), "embedded X11 editor");

    for round in 0..3 {
        let plugin = instance.plugin_handle();
        gui.create(&plugin, embedded).expect("gui.create");
        let size = gui.get_size(&plugin).expect("gui.get_size");
        assert!(size.width >= 200 && size.height >= 150, "round {round}: size {size:?}");

        let parent = conn.generate_id().unwrap();
        conn.create_window(
            screen.root_depth,
            parent,
            screen.root,
            0,
            0,
            1200,
            1000,
            0,
            WindowClass::INPUT_OUTPUT,
            screen.root_visual,
            &CreateWindowAux::new().background_pixel(screen.black_pixel),
        )
        .unwrap();
        conn.map_window(parent).unwrap();
        // A round trip, so that the window exists on the server before the plugin's own
        // connection reparents into it.
        conn.get_input_focus().unwrap().reply().unwrap();
        // SAFETY: `parent` lives until after gui.destroy below.
        unsafe { gui.set_parent(&plugin, Window::from_x11_handle(parent as _)) }.expect("gui.set_parent");
        gui.show(&plugin).expect("gui.show");
        let (colours, drawn) = wait_for_picture(&conn, parent, size);
        eprintln!("round {round}: editor {}x{}, {colours} colours, {:.0} % drawn", size.width, size.height, drawn * 100.0);
        if let (0, Some(path)) = (round, std::env::var_os("GENRE_METER_EDITOR_SCREENSHOT")) {
            save_ppm(&conn, parent, size, std::path::Path::new(&path));
        }
        assert!(colours >= 8 && drawn > 0.9, "round {round}: the editor drew nothing ({colours} colours, {drawn})");

        if gui.can_resize(&plugin) {
            let bigger = GuiSize { width: size.width + 160, height: size.height + 120 };
            let wanted = gui.adjust_size(&plugin, bigger).unwrap_or(bigger);
            gui.set_size(&plugin, wanted).expect("gui.set_size");
            let now = gui.get_size(&plugin).expect("gui.get_size after resize");
            assert_eq!((now.width, now.height), (wanted.width, wanted.height), "round {round}: resized");
            let (colours, drawn) = wait_for_picture(&conn, parent, now);
            assert!(colours >= 8 && drawn > 0.9, "round {round}: nothing drawn after resizing ({colours} colours, {drawn})");
        }

        gui.hide(&plugin).expect("gui.hide");
        gui.destroy(&plugin);
        // As a DAW does: the plugin's window goes first, then the host's.
        std::thread::sleep(Duration::from_millis(200));
        conn.destroy_window(parent).unwrap();
        conn.get_input_focus().unwrap().reply().unwrap();
    }
    // The editor's threads end with it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while thread_count() > threads_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(thread_count() <= threads_before, "threads before {threads_before}, after {}", thread_count());
    // Audio still passes after the editor came and went.
    let clip = music_clip(48_000, 1.0);
    let layout = [clip.0, clip.1];
    let out = play(&mut instance, 48_000.0, 256, &layout);
    assert_bit_exact(&layout, &out, "after the editor closed");
}
