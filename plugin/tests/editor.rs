//! The editor through the CLAP gui extension, embedded in an X11 window the test creates,
//! as a DAW embeds it: it is created, shown, draws, resizes, is hidden and destroyed several
//! times, reopens at the size it had, draws nothing past its right edge from the default
//! size down to the minimum, and leaves no thread behind. Runs on `$DISPLAY`, or starts its
//! own Xvfb; skips (saying so) when neither exists, and fails instead under `CI=true` (CI
//! installs Xvfb).

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

/// The editor's area of the host window, one RGB value per pixel, rows top to bottom.
fn picture(conn: &RustConnection, window: u32, size: GuiSize) -> Vec<u32> {
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, size.width as u16, size.height as u16, !0)
        .unwrap()
        .reply()
        .unwrap();
    image.data.chunks_exact(4).map(|p| u32::from_le_bytes([p[0], p[1], p[2], 0])).collect()
}

/// Distinct colours in the editor's area of the host window, and the share of that area the
/// editor painted (the host window's own background is black).
fn picture_stats(conn: &RustConnection, window: u32, size: GuiSize) -> (usize, f64) {
    let pixels = picture(conn, window, size);
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

/// Waits (up to 20 s, for a loaded machine) until the editor has painted its whole area and
/// the picture holds still (the meter is idle after playback), so a picture of the previous
/// size is never judged.
fn wait_for_picture(conn: &RustConnection, window: u32, size: GuiSize) -> (usize, f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut previous = Vec::new();
    loop {
        let pixels = picture(conn, window, size);
        let drawn = pixels.iter().all(|&p| p != 0);
        if (drawn && pixels == previous) || Instant::now() > deadline {
            return picture_stats(conn, window, size);
        }
        previous = pixels;
        std::thread::sleep(Duration::from_millis(400));
    }
}

/// Egui's panels keep an 8-point margin at the window's sides; a control laid out past the
/// right edge paints into it. Every row's last 4 pixel columns must look like its first
/// (panel fill, or a separator line across the whole width). Returns the rows that differ.
fn rows_painted_at_the_right_edge(conn: &RustConnection, window: u32, size: GuiSize) -> Vec<u32> {
    let pixels = picture(conn, window, size);
    let w = size.width as usize;
    (0..size.height)
        .filter(|&y| {
            let row = &pixels[y as usize * w..(y as usize + 1) * w];
            row[w - 4..].iter().any(|&p| p != row[1])
        })
        .collect()
}

/// The editor at `size`: its whole area painted with `min_colours` or more, nothing past its
/// right edge.
fn assert_drawn_whole(conn: &RustConnection, window: u32, size: GuiSize, min_colours: usize, what: &str) {
    let (colours, drawn) = wait_for_picture(conn, window, size);
    eprintln!("{what}: editor {}x{}, {colours} colours, {:.2} % drawn", size.width, size.height, drawn * 100.0);
    assert!(drawn == 1.0, "{what}: {:.3} % of the editor's area left unpainted", (1.0 - drawn) * 100.0);
    assert!(colours >= min_colours, "{what}: only {colours} colours (expected {min_colours} or more)");
    let rows = rows_painted_at_the_right_edge(conn, window, size);
    assert!(
        rows.is_empty(),
        "{what}: something is drawn into the right margin (clipped at the edge) on {} rows, first {:?}",
        rows.len(),
        &rows[..rows.len().min(8)]
    );
}

/// Writes `<stem>-<suffix>.ppm` beside the screenshot path asked for.
fn screenshot_path(suffix: &str) -> Option<std::path::PathBuf> {
    let path = std::path::PathBuf::from(std::env::var_os("GENRE_METER_EDITOR_SCREENSHOT")?);
    if suffix.is_empty() {
        return Some(path);
    }
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    Some(path.with_file_name(format!("{stem}-{suffix}.ppm")))
}

/// Colours the editor's picture has at least, with bars, history and verdict on screen
/// (measured: see docs/plugin.md); a blank or half-drawn editor has a few dozen.
const MIN_COLOURS: usize = 1000;
const MIN_COLOURS_AT_MINIMUM: usize = 500;

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
    // Some audio first, so that the meter has bars, history and a verdict to draw. For
    // screenshots, GENRE_METER_EDITOR_PLAY_SECONDS plays longer: 6 s sessions (each under
    // the 8 s queue), music and a drone by turns, so the history has something to show.
    let seconds: f64 = std::env::var("GENRE_METER_EDITOR_PLAY_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(7.0);
    let sessions = (seconds / 6.0).ceil().max(1.0) as usize;
    for session in 0..sessions {
        let length = if sessions == 1 { seconds } else { 6.0 };
        let (left, right) = music_clip(48_000, length);
        if session % 4 == 3 {
            let drone: Vec<f32> = (0..left.len()).map(|i| (i as f32 * 0.0072).sin() * 0.3 + (i as f32 * 0.0108).sin() * 0.2).collect();
            play(&mut instance, 48_000.0, 512, &[drone.clone(), drone]);
        } else {
            play(&mut instance, 48_000.0, 512, &[left, right]);
        }
    }
    let threads_before = thread_count();

    let handle = instance.plugin_handle();
    let gui: PluginGui = handle.get_extension().expect("the plugin has the CLAP gui extension");
    let embedded = GuiConfiguration { api_type: GuiApiType::X11, is_floating: false };
    assert!(gui.is_api_supported(&instance.plugin_handle(), embedded), "embedded X11 editor");

    // Round 0 opens at the default size and grows; round 1 reopens at that size and shrinks
    // to the minimum; round 2 reopens at the minimum, refuses to go below it, and returns to
    // the default.
    let default = GuiSize { width: 720, height: 560 };
    let bigger = GuiSize { width: 880, height: 680 };
    let minimum = GuiSize { width: 420, height: 440 };
    let plan = [(default, bigger), (bigger, minimum), (minimum, default)];
    for (round, (opens_at, resize_to)) in plan.into_iter().enumerate() {
        let plugin = instance.plugin_handle();
        gui.create(&plugin, embedded).expect("gui.create");
        let size = gui.get_size(&plugin).expect("gui.get_size");
        assert_eq!((size.width, size.height), (opens_at.width, opens_at.height), "round {round}: opens at the size it had");
        assert!(gui.can_resize(&plugin), "the editor is resizable");

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
        let min_colours = if size == minimum { MIN_COLOURS_AT_MINIMUM } else { MIN_COLOURS };
        assert_drawn_whole(&conn, parent, size, min_colours, &format!("round {round}, opened"));
        let suffix = match round {
            0 => Some(""),
            2 => Some("min"),
            _ => None,
        };
        if let Some(path) = suffix.and_then(screenshot_path) {
            save_ppm(&conn, parent, size, &path);
        }

        if round == 2 {
            let too_small = GuiSize { width: 200, height: 150 };
            let adjusted = gui.adjust_size(&plugin, too_small).expect("gui.adjust_size");
            assert!(
                adjusted.width >= minimum.width && adjusted.height >= minimum.height,
                "a size below the minimum is adjusted up to it: {adjusted:?}"
            );
        }
        let wanted = gui.adjust_size(&plugin, resize_to).unwrap_or(resize_to);
        assert_eq!((wanted.width, wanted.height), (resize_to.width, resize_to.height), "round {round}: {resize_to:?} is a valid size");
        gui.set_size(&plugin, wanted).expect("gui.set_size");
        let now = gui.get_size(&plugin).expect("gui.get_size after resize");
        assert_eq!((now.width, now.height), (wanted.width, wanted.height), "round {round}: resized");
        let min_colours = if now == minimum { MIN_COLOURS_AT_MINIMUM } else { MIN_COLOURS };
        assert_drawn_whole(&conn, parent, now, min_colours, &format!("round {round}, resized"));

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
