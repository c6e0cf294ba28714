//! The preset picker in a `TestBackend`: editing and validating the form, its honest status
//! for the model and the data, and the start-error box.

mod ui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dps_tui::config::TrainConfig;
use dps_tui::hub::HubSource;
use dps_tui::ui::app::Screen;
use dps_tui::ui::form::{Picker, PresetEntry};
use dps_tui::ui::theme::Theme;
use dps_tui::ui::App;

use ui_support::*;

#[test]
fn picker_edits_validate_and_start() {
    let mut app = picker_app();
    assert_eq!(app.screen, Screen::Picker);
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.picker.as_ref().unwrap().selected, 1);
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Down)); // p
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    for c in "2".chars() {
        app.on_key(chr(c));
    }
    app.on_key(key(KeyCode::Enter));
    assert!(app.take_start_request().is_none(), "invalid p blocks start");
    let screen = text(&render(&mut app, 120, 40));
    assert_has(
        &screen,
        &[
            "✗ p",
            "invalid value `2`: expected a number from",
            "0 to 1 (exclusive)",
            "could not start",
        ],
    );
    app.on_key(key(KeyCode::Backspace));
    for c in "0.4".chars() {
        app.on_key(chr(c));
    }
    app.on_key(key(KeyCode::Enter));
    let config = app.take_start_request().expect("valid form starts");
    assert_eq!(config.p, 0.4);
    assert_eq!(config.task, "mrpc");
    assert_eq!(config.max_steps, Some(690));
    // A failing start is shown in the picker.
    app.start_failed("cannot read ../shared/glue/MRPC/train.tsv. Fix: set data_dir".into());
    let screen = text(&render(&mut app, 120, 40));
    assert_has(&screen, &["could not start", "Fix: set data_dir"]);
    // Starting switches to the dashboard.
    app.begin_run();
    assert_eq!(app.screen, Screen::Dashboard);
}

// ---------------------------------------------------------------- rendering

#[test]
fn render_picker() {
    let mut app = picker_app();
    let screen = text(&render(&mut app, 120, 40));
    assert_has(
        &screen,
        &[
            "presets",
            "rte",
            "mrpc",
            "468 steps",
            "3 epochs",
            "dps-dense",
            "all-MiniLM-L6-v2",
            "cannot be read",
            "run settings",
            "learning_rate",
            "update_ratio",
            "data_dir",
            "device",
            "⇣ will download from the Hub: enter starts",
            "⇣ model sentence-transformers/all-MiniLM-L6-v2",
            "will download from the Hub",
            "⇣ data  GLUE rte will download from the Hub",
            "enter",
        ],
    );
    let small = text(&render(&mut app, 80, 24));
    assert_has(&small, &["rte", "method", "presets"]);
}

/// A picker over one preset with `config`, its readiness checked against `hub`.
fn one_preset_picker(config: TrainConfig, hub: HubSource) -> App {
    let mut picker = Picker::new(vec![PresetEntry {
        name: "x".into(),
        origin: "test".into(),
        config: Ok(config),
    }]);
    picker.hub = hub;
    picker.revalidate();
    let mut app = App::with_picker(picker);
    app.theme = Theme::colored();
    app
}

#[test]
fn render_picker_status_is_honest_about_model_and_data() {
    let tmp = tempfile::tempdir().unwrap();
    let offline = HubSource::offline(tmp.path().join("cache"));
    // The demo needs nothing from disk.
    let demo = TrainConfig {
        task: "demo".into(),
        model: "demo".into(),
        ..TrainConfig::default()
    };
    let screen = text(&render(
        &mut one_preset_picker(demo, offline.clone()),
        120,
        40,
    ));
    assert_has(&screen, &["✓ ready: enter starts", "built-in demo model"]);
    // A local model folder and data folder that do not exist.
    let model = tmp.path().join("no-model");
    let data = tmp.path().join("no-glue");
    let gone = TrainConfig {
        task: "rte".into(),
        model: model.display().to_string(),
        data_dir: Some(data.clone()),
        ..TrainConfig::default()
    };
    let mut app = one_preset_picker(gone.clone(), offline.clone());
    let screen = text(&render(&mut app, 160, 40));
    assert!(!screen.contains("ready"), "{screen}");
    assert_has(
        &screen,
        &["✗ model or data missing", "not found", "train.tsv"],
    );
    // Once the files are there, the same form is ready.
    std::fs::create_dir_all(&model).unwrap();
    for f in dps_tui::hub::MODEL_FILES {
        std::fs::write(model.join(f), "x").unwrap();
    }
    std::fs::create_dir_all(data.join("RTE")).unwrap();
    for f in ["train.tsv", "dev.tsv"] {
        std::fs::write(data.join("RTE").join(f), "x").unwrap();
    }
    let mut app = one_preset_picker(gone, offline.clone());
    let screen = text(&render(&mut app, 160, 40));
    assert_has(&screen, &["✓ ready: enter starts", "model folder"]);
    // A Hub id offline with an empty cache cannot be had.
    let hub_id = TrainConfig {
        task: "rte".into(),
        ..TrainConfig::default()
    };
    let screen = text(&render(&mut one_preset_picker(hub_id, offline), 160, 40));
    assert_has(
        &screen,
        &["✗ model or data missing", "HF_HUB_OFFLINE is set"],
    );
}

#[test]
fn render_start_error_shows_the_whole_message_and_scrolls() {
    let msg = "model `sentence-transformers/all-MiniLM-L6-v2`: listing the files failed: request \
               error: https://huggingface.co/api/models/sentence-transformers/all-MiniLM-L6-v2/revision/main: \
               Dns Failed to resolve 'huggingface.co'. The cache folder is /home/user/.cache/huggingface/hub. \
               Fix: check the network and the repository id (private repositories need HF_TOKEN or a \
               token file); or pass a local folder (--model DIR for a model, --data-dir DIR for GLUE \
               data); or, when the files are already in the cache, set HF_HUB_OFFLINE=1 to use them \
               without the network";
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    // The error box's text (its lines start with a thin border; the focused preset list's
    // with a thick one), without whitespace.
    let boxed = |screen: &str| -> String {
        squeeze(
            &screen
                .lines()
                .filter(|l| l.starts_with('│'))
                .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let mut app = picker_app();
    app.start_failed(msg.into());
    // Big enough: every word of the message is on screen, cause and fix included.
    let screen = text(&render(&mut app, 120, 40));
    assert_has(
        &screen,
        &[
            "could not start",
            "Dns Failed to resolve",
            "HF_HUB_OFFLINE=1",
        ],
    );
    assert!(
        boxed(&screen).contains(&squeeze(msg)),
        "the message is cut:\n{screen}"
    );
    // Small: the box shows the start and says there is more; page down reaches the fix.
    let small = text(&render(&mut app, 80, 20));
    assert_has(&small, &["could not start", "more below: pgdn"]);
    assert!(
        boxed(&small).starts_with(&squeeze("model `sentence-transformers")),
        "{small}"
    );
    assert!(!boxed(&small).contains("withoutthenetwork"), "{small}");
    for _ in 0..20 {
        app.on_key(key(KeyCode::PageDown));
    }
    let end = text(&render(&mut app, 80, 20));
    assert_has(&end, &["pgup: back to the top"]);
    assert!(boxed(&end).ends_with("withoutthenetwork"), "{end}");
    assert!(!end.contains("more below"), "{end}");
    app.on_key(key(KeyCode::PageUp));
    let back = text(&render(&mut app, 80, 20));
    assert_has(&back, &["more below: pgdn"]);
}

// ---------------------------------------------------------------- rough edges

/// With the Hub out of reach, no line says the model or data will download: not when both
/// would, and not when the other is missing anyway.
#[test]
fn render_never_promises_a_download_the_hub_cannot_serve() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nothing listens on: the endpoint refuses at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub = HubSource {
        cache_dir: tmp.path().join("cache"),
        offline: false,
        endpoint: Some(format!("http://127.0.0.1:{port}")),
    };
    let both = TrainConfig {
        task: "rte".into(),
        model: "org/model".into(),
        ..TrainConfig::default()
    };
    let data_missing = TrainConfig {
        data_dir: Some(tmp.path().join("no-glue")),
        ..both.clone()
    };
    for config in [both, data_missing] {
        let mut picker = Picker::new(vec![PresetEntry {
            name: "x".into(),
            origin: "test".into(),
            config: Ok(config),
        }]);
        picker.hub = hub.clone();
        picker.probe_hub = true;
        picker.revalidate();
        let mut app = App::with_picker(picker);
        let screen = text(&render(&mut app, 160, 40));
        assert!(!screen.contains("will download"), "{screen}");
        assert!(!screen.contains('⇣'), "{screen}");
        assert_has(&screen, &["org/model is not cached", "reached"]);
    }
}

/// The "could not start" box is about the settings it was started with: editing the form
/// (or picking another preset) takes it away.
#[test]
fn the_start_error_goes_once_the_form_is_edited() {
    let mut app = picker_app();
    app.start_failed("cannot read ../shared/glue/RTE/train.tsv. Fix: set data_dir".into());
    assert_has(&text(&render(&mut app, 120, 40)), &["could not start"]);
    app.on_key(key(KeyCode::Tab));
    for _ in 0..8 {
        app.on_key(key(KeyCode::Down)); // data_dir
    }
    assert_eq!(app.picker.as_ref().unwrap().fields[8].key, "data_dir");
    // Moving between fields leaves it; editing one takes it away.
    assert_has(&text(&render(&mut app, 120, 40)), &["could not start"]);
    for c in "/data/glue".chars() {
        app.on_key(chr(c));
    }
    let screen = text(&render(&mut app, 120, 40));
    assert!(!screen.contains("could not start"), "{screen}");
    // Another preset takes a new one away too.
    app.start_failed("no such model. Fix: set model".into());
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Down));
    let screen = text(&render(&mut app, 120, 40));
    assert!(!screen.contains("could not start"), "{screen}");
}

/// The highlighted field starts at the top for every preset: typing after switching presets
/// never lands in the field that was highlighted for the last one.
#[test]
fn the_form_field_resets_when_the_preset_changes() {
    let mut app = picker_app();
    app.on_key(key(KeyCode::Tab));
    for _ in 0..9 {
        app.on_key(key(KeyCode::Down));
    }
    let p = app.picker.as_ref().unwrap();
    assert_eq!(p.fields[p.field].key, "device");
    let device = p.fields[9].text.clone();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Down)); // mrpc
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Down)); // p
    for c in "0.4".chars() {
        app.on_key(chr(c));
    }
    let p = app.picker.as_ref().unwrap();
    assert_eq!(p.selected, 1);
    assert_eq!(
        p.fields[p.field].key, "p",
        "the form starts at its first field"
    );
    assert_eq!(p.fields[9].text, device, "typing went into device");
    assert!(p.fields[1].text.ends_with("0.4"), "{:?}", p.fields[1]);
}

/// A click on a preset row highlights that preset (the form follows); enter starts it.
#[test]
fn clicking_a_preset_row_selects_it() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = picker_app();
    let buf = render(&mut app, 120, 40);
    let screen = text(&buf);
    let row = screen
        .lines()
        .position(|l| l.contains(" mrpc "))
        .expect("the mrpc row") as u16;
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    app.on_key(key(KeyCode::Tab)); // the form has the keys; a click gives them back
    app.on_mouse(click(10, row));
    let p = app.picker.as_ref().unwrap();
    assert_eq!(p.selected, 1, "{screen}");
    assert_eq!(p.focus, dps_tui::ui::form::PickerFocus::List);
    // Clicks elsewhere (the header, the form) change nothing.
    app.on_mouse(click(10, row - 2));
    app.on_mouse(click(100, row + 1));
    assert_eq!(app.picker.as_ref().unwrap().selected, 1);
    app.on_key(key(KeyCode::Enter));
    let config = app
        .take_start_request()
        .expect("enter starts the clicked preset");
    assert_eq!(
        (config.task.as_str(), config.max_steps),
        ("mrpc", Some(690))
    );
}

/// A preset name longer than the usual column (`lowres-1000`, `ood-snli`) stays apart from the
/// method after it, on narrow and wide screens.
#[test]
fn long_preset_names_do_not_run_into_the_method() {
    let mk = |name: &str| PresetEntry {
        name: name.into(),
        origin: format!("presets/{name}.yaml"),
        config: Ok(TrainConfig {
            task: "rte".into(),
            ..TrainConfig::default()
        }),
    };
    let names = ["rte", "lowres-1000", "ood-snli"];
    for (w, h) in [(80, 24), (120, 36), (200, 50)] {
        let mut app = App::with_picker(Picker::new(names.iter().map(|n| mk(n)).collect()));
        let screen = text(&render(&mut app, w, h));
        for n in names {
            assert!(
                screen
                    .lines()
                    .any(|l| l.contains(&format!(" {n} ")) && l.contains("dps-dense")),
                "{n} not apart from its method at {w}x{h}:\n{screen}"
            );
        }
    }
}
