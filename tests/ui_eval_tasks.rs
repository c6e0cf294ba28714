//! Runs with eval tasks (`eval_tasks` in the configuration, metrics `<task>/<metric>` in the
//! evaluations): the dashboard's dev panel draws one curve per task and `t` picks the one drawn
//! large; the compare screen lists each task's final metric. Rendered into a `TestBackend`.

mod ui_support;

use dps_tui::core::events::{Event, Metrics};
use dps_tui::ui::compare::{CompareRun, CompareState};
use dps_tui::ui::screens::dashboard::{layout, layout_with};
use dps_tui::ui::theme::Theme;
use dps_tui::ui::App;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ui_support::*;

/// The out-of-domain protocol's eval tasks, in the configuration's order.
const TASKS: [&str; 5] = ["mnli", "snli", "sick", "scitail", "rte"];

/// Each task's accuracy at `step`: far apart, so each curve has its own level.
fn acc(task: &str, step: usize) -> f64 {
    let base = match task {
        "mnli" => 0.75,
        "snli" => 0.80,
        "sick" => 0.40,
        "scitail" => 0.70,
        _ => 0.60,
    };
    base + step as f64 / 4000.0
}

/// The training task's metrics plus every task of `tasks` as `<task>/accuracy` and `/loss`.
fn task_metrics(step: usize, own: f64, tasks: &[&str]) -> Metrics {
    let mut m = metrics(own);
    for t in tasks {
        m.insert(format!("{t}/accuracy"), acc(t, step));
        m.insert(format!("{t}/loss"), 1.0 - acc(t, step));
    }
    m
}

/// [`stream`] up to `upto` as a run on `task` with `eval_tasks: declared`, its evaluations
/// reporting every task of `reported`.
fn eval_stream(upto: usize, task: &str, declared: &[&str], reported: &[&str]) -> Vec<Event> {
    retargeted(stream(upto), task, declared)
        .into_iter()
        .map(|e| match e {
            Event::Eval { step, metrics } => Event::Eval {
                step,
                metrics: task_metrics(step, metrics["accuracy"], reported),
            },
            other => other,
        })
        .collect()
}

/// An MNLI run evaluated on the five tasks, at step `upto`.
fn ood_app(upto: usize) -> App {
    let mut app = App::from_events(&eval_stream(upto, "mnli", &TASKS, &TASKS));
    app.theme = Theme::colored();
    app
}

/// The dev panel's area on a `w` × `h` screen.
fn dev_area(app: &App, w: u16, h: u16) -> Rect {
    layout_with(Rect::new(0, 0, w, h), false, !app.run.eval_tasks.is_empty())
        .eval
        .expect("a dev panel")
}

/// The text of `area` in `buf`, one line per row.
fn area_text(buf: &Buffer, area: Rect) -> String {
    let mut s = String::new();
    for y in area.y..area.y + area.height {
        for x in area.x..area.x + area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// The foreground colours of the braille cells (the curves) inside `area`.
fn curve_colours(buf: &Buffer, area: Rect) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for y in area.y..area.y + area.height {
        for x in area.x..area.x + area.width {
            let c = &buf[(x, y)];
            let braille = c
                .symbol()
                .chars()
                .next()
                .is_some_and(|ch| ('\u{2801}'..='\u{28FF}').contains(&ch));
            if braille {
                out.insert(format!("{:?}", c.fg));
            }
        }
    }
    out
}

fn series_colour(theme: &Theme, i: usize) -> String {
    format!("{:?}", theme.series(i).fg.unwrap_or(Color::Reset))
}

#[test]
fn the_reducer_finds_the_eval_tasks_in_the_declared_order() {
    let app = ood_app(200);
    let names: Vec<&str> = app.run.eval_tasks.iter().map(|t| t.task.as_str()).collect();
    assert_eq!(names, TASKS);
    assert!(app.run.eval_tasks.iter().all(|t| t.metric == "accuracy"));
    // MNLI is one of its own eval tasks: no separate curve for the training task.
    let series = app.run.dev_series();
    assert_eq!(series.len(), 5);
    assert!(series.iter().all(|s| !s.train));
    // An ordinary run has none.
    assert!(app_at(200).run.eval_tasks.is_empty());
    assert!(app_at(200).run.dev_series().is_empty());
}

#[test]
fn the_dev_panel_draws_one_curve_per_task_with_a_legend_200x60() {
    let mut app = ood_app(200);
    let buf = render(&mut app, 200, 60);
    let area = dev_area(&app, 200, 60);
    let panel = area_text(&buf, area);
    assert_has(&panel, &["dev", "@200", "5 tasks", "all"]);
    // One legend row per task, in order, with its last value (mnli 0.75 + 200/4000).
    let rows: Vec<&str> = panel.lines().collect();
    for (i, t) in TASKS.iter().enumerate() {
        let row = rows[1 + i];
        assert!(row.contains(t), "row {i} lacks {t}: {row:?}\n{panel}");
        let last = format!("{:.4}", acc(t, 200));
        assert!(row.contains(&last), "row {i} lacks {last}: {row:?}");
        assert!(row.contains("best"), "{row:?}");
    }
    // Every task's curve is drawn, in its colour.
    let colours = curve_colours(&buf, area);
    for i in 0..TASKS.len() {
        assert!(
            colours.contains(&series_colour(&app.theme, i)),
            "no curve in colour {i}: {colours:?}"
        );
    }
    assert_has(&text(&buf), &["t dev task"]);
}

#[test]
fn t_cycles_the_task_drawn_large_and_back_to_all() {
    let mut app = ood_app(200);
    let (w, h) = (200, 60);
    for (i, t) in TASKS.iter().enumerate() {
        app.on_key(chr('t'));
        assert_eq!(app.view.dev_focus.as_deref(), Some(*t));
        let buf = render(&mut app, w, h);
        let area = dev_area(&app, w, h);
        let panel = area_text(&buf, area);
        let title = panel.lines().next().unwrap();
        assert!(title.contains(&format!("{t} accuracy")), "{title}");
        assert!(title.contains(&format!("{}/5", i + 1)), "{title}");
        // Only the large task's curve is in the plot...
        let colours = curve_colours(&buf, area);
        assert_eq!(
            colours,
            BTreeSet::from([series_colour(&app.theme, i)]),
            "task {t}"
        );
        // ...marked in the legend, the others still named there, each with a sparkline.
        let row = panel.lines().nth(1 + i).unwrap();
        assert!(row.contains('▸'), "{row:?}");
        for other in TASKS {
            assert!(panel.contains(other), "{other} missing:\n{panel}");
        }
        assert!(panel.contains('▁') || panel.contains('█'), "{panel}");
    }
    app.on_key(chr('t'));
    assert_eq!(app.view.dev_focus, None, "after the last task: all alike");
    // Shift-t goes the other way: from all to the last task.
    app.on_key(chr('T'));
    assert_eq!(app.view.dev_focus.as_deref(), Some("rte"));
    app.on_key(chr('T'));
    assert_eq!(app.view.dev_focus.as_deref(), Some("scitail"));
    // The large task scales the plot to its own values: sick's 0.40s sit inside the y axis.
    app.view.dev_focus = Some("sick".into());
    let buf = render(&mut app, w, h);
    let panel = area_text(&buf, dev_area(&app, w, h));
    // Below the border and the five legend rows: the plot, y labels in its first columns.
    let y_labels: String = panel
        .lines()
        .skip(6)
        .map(|l| l.chars().skip(1).take(7).collect::<String>() + "\n")
        .collect();
    assert!(y_labels.contains("0.46"), "{y_labels}\n{panel}");
    assert!(
        !y_labels.contains("0.8") && !y_labels.contains("0.7"),
        "the y axis fits sick alone:\n{panel}"
    );
}

#[test]
fn the_dev_panel_is_readable_at_80x24() {
    let mut app = ood_app(200);
    assert!(layout(Rect::new(0, 0, 80, 24), false).eval.is_none());
    let buf = render(&mut app, 80, 24);
    let screen = text(&buf);
    for line in screen.lines() {
        assert_eq!(line.chars().count(), 80);
    }
    let area = dev_area(&app, 80, 24);
    assert!(area.width >= 30 && area.height >= 6, "{area:?}");
    let panel = area_text(&buf, area);
    assert_has(&panel, &["dev", "all"]);
    for t in TASKS {
        assert!(panel.contains(t), "{t} missing at 80x24:\n{panel}");
    }
    assert!(
        panel.contains(".800"),
        "mnli's last value, shortened:\n{panel}"
    );
    assert!(!curve_colours(&buf, area).is_empty(), "no curve:\n{panel}");
    // The loss chart and the heatmap are still there.
    assert_has(&screen, &["loss", "selection"]);
    app.on_key(chr('t'));
    app.on_key(chr('t'));
    let buf = render(&mut app, 80, 24);
    let panel = area_text(&buf, dev_area(&app, 80, 24));
    assert!(
        panel.lines().next().unwrap().contains("snli accuracy"),
        "{panel}"
    );
    assert_eq!(
        curve_colours(&buf, dev_area(&app, 80, 24)),
        BTreeSet::from([series_colour(&app.theme, 1)])
    );
}

#[test]
fn other_sizes_and_no_colours_stay_readable() {
    let mut app = ood_app(200);
    // A wide but short screen puts the panel beside the loss chart.
    let area = dev_area(&app, 120, 30);
    assert!(area.height >= 9, "{area:?}");
    let panel = area_text(&render(&mut app, 120, 30), area);
    for t in TASKS {
        assert!(panel.contains(t), "{t} missing at 120x30:\n{panel}");
    }
    // Narrow and tall.
    let panel = area_text(&render(&mut app, 90, 50), dev_area(&app, 90, 50));
    for t in TASKS {
        assert!(panel.contains(t), "{t} missing at 90x50:\n{panel}");
    }
    // Without colours the legend numbers the tasks and the curves' ends carry the numbers.
    app.theme = Theme::plain();
    let buf = render(&mut app, 200, 60);
    assert!(buf.content().iter().all(|c| c.fg == Color::Reset));
    let panel = area_text(&buf, dev_area(&app, 200, 60));
    assert_has(&panel, &["1 mnli", "5 rte"]);
    for (w, h) in [(1, 1), (20, 8), (40, 12), (60, 20), (79, 23), (300, 90)] {
        render(&mut app, w, h);
    }
}

#[test]
fn a_task_without_data_is_left_out_and_the_training_task_gets_its_curve() {
    // Trained on SNLI, evaluated on sick, scitail and rte; scitail's data were not found.
    let declared = ["sick", "scitail", "rte"];
    let mut app = App::from_events(&eval_stream(200, "snli", &declared, &["sick", "rte"]));
    app.theme = Theme::colored();
    let tasks: Vec<&str> = app.run.eval_tasks.iter().map(|t| t.task.as_str()).collect();
    assert_eq!(tasks, ["sick", "rte"]);
    let series = app.run.dev_series();
    assert_eq!(series[0].task, "snli");
    assert!(series[0].train);
    assert_eq!(series[0].key, "accuracy");
    let buf = render(&mut app, 200, 60);
    let panel = area_text(&buf, dev_area(&app, 200, 60));
    assert_has(&panel, &["3 tasks", "snli (train)", "sick", "rte"]);
    assert!(!panel.contains("scitail"), "{panel}");
    app.on_key(chr('t'));
    assert_eq!(app.view.dev_focus.as_deref(), Some("snli"));
    let panel = area_text(&render(&mut app, 200, 60), dev_area(&app, 200, 60));
    assert!(panel.lines().next().unwrap().contains("snli accuracy"));
    // The title line's final metric is the training task's own.
    let mut ev = eval_stream(400, "snli", &declared, &["sick", "rte"]);
    let mut last = task_metrics(400, 0.9, &["sick", "rte"]);
    // A task's key that sorts before the training task's own metric is not taken for it.
    last.insert("a/accuracy".into(), 0.1);
    ev.push(Event::Done {
        step: 400,
        metrics: last,
        stopped_early: false,
    });
    let mut done = App::from_events(&ev);
    let screen = text(&render(&mut done, 200, 60));
    assert_has(&screen, &["finished at step 400 · accuracy 0.9000"]);
}

#[test]
fn ordinary_runs_keep_their_dev_panel_and_ignore_t() {
    let mut app = app_at(200);
    for (w, h) in [(200, 60), (80, 24), (90, 50), (120, 30)] {
        let r = Rect::new(0, 0, w, h);
        assert_eq!(layout(r, false), layout_with(r, false, false));
        let before = render(&mut app, w, h);
        app.on_key(chr('t'));
        assert_eq!(app.view.dev_focus, None);
        assert_eq!(render(&mut app, w, h), before, "{w}x{h}");
        assert!(!text(&before).contains("dev task"));
    }
    let screen = text(&render(&mut app, 200, 60));
    assert_has(&screen, &["accuracy 0.6500", "best 0.6500 @200"]);
}

#[test]
fn help_lists_the_task_key() {
    let mut app = ood_app(120);
    app.on_key(chr('?'));
    let screen = text(&render(&mut app, 200, 60));
    assert_has(
        &screen,
        &["t / T", "eval tasks: next / previous one drawn large"],
    );
}

fn compare_run(name: &str, method: &str, shift: f64) -> CompareRun {
    let mut ev = eval_stream(400, "snli", &["sick", "rte"], &["sick", "rte"]);
    if let Event::Start { method: m, .. } = &mut ev[0] {
        *m = method.into();
    }
    ev.push(Event::Done {
        step: 400,
        metrics: {
            let mut m = task_metrics(400, 0.8 + shift, &["sick", "rte"]);
            *m.get_mut("sick/accuracy").unwrap() += shift;
            m
        },
        stopped_early: false,
    });
    CompareRun::from_events(name, Path::new(name), &ev, BTreeMap::new(), None)
}

#[test]
fn compare_orders_the_task_metrics_and_shows_their_final_values() {
    let st = CompareState::new(vec![
        compare_run("run-a", "vanilla", 0.0),
        compare_run("run-b", "dps-dense", 0.05),
    ]);
    assert_eq!(
        st.metrics,
        [
            "accuracy",
            "sick/accuracy",
            "rte/accuracy",
            "loss",
            "rte/loss",
            "sick/loss"
        ]
    );
    // `eval_tasks` is a configuration key like any other, the same in both runs.
    assert!(!st.differing_keys().contains(&"eval_tasks"));
    let mut term = Terminal::new(TestBackend::new(160, 50)).unwrap();
    term.draw(|f| dps_tui::ui::screens::compare::draw(f, &st))
        .unwrap();
    let screen = text(term.backend().buffer());
    let sick = format!("{:.4}", acc("sick", 400) + 0.05);
    assert_has(
        &screen,
        &["final sick/accuracy", "final rte/accuracy", &sick],
    );
    // The run that does better on sick has the final sick value in its column.
    let row = screen
        .lines()
        .find(|l| l.contains("final sick/accuracy"))
        .unwrap();
    assert!(row.contains(&sick), "{row}");
    // A run's summary knows its eval tasks, losses are lower-is-better.
    let r = &st.runs[0].summary;
    let tasks: Vec<String> = r.eval_tasks().into_iter().map(|t| t.key()).collect();
    assert_eq!(tasks, ["sick/accuracy", "rte/accuracy"]);
    let best_loss = r.best("sick/loss").unwrap();
    assert_eq!(best_loss.1, 400, "the last sick loss is the lowest");
}
