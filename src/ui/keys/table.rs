//! The key table itself: every key of every screen, in help-screen order.

use super::{back, bind, ch, ctrl, key, with, Action, Binding, Section};
use crossterm::event::KeyCode::{
    BackTab, Backspace, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up,
};
use crossterm::event::KeyModifiers;
use Section::{Compare, Help, Replay, Training, View, Watch, WatchFilter};

/// Every key, in help-screen order.
pub const BINDINGS: &[Binding] = &[
    // ------------------------------------------------------------ the live dashboard
    bind(
        Training,
        &[ch(' ')],
        "space",
        "pause / resume",
        Action::PauseResume,
    ),
    bind(
        Training,
        &[ch('+'), ch('='), back(ch('-')), back(ch('_'))],
        "+ / -",
        "p (share frozen) ± 0.05, from the next selection",
        Action::StepP,
    ),
    bind(
        Training,
        &[back(ch('[')), ch(']')],
        "[ / ]",
        "peak learning rate ÷ 2 / × 2",
        Action::ScaleLr,
    ),
    bind(
        Training,
        &[ch('u')],
        "u",
        "update ratio: cycle 0.025 → 0.05 → 0.1, from the next stage",
        Action::CycleUpdateRatio,
    ),
    bind(
        Training,
        &[ch('f')],
        "f",
        "DPS freeze: gradient ↔ strict, from the next selection",
        Action::ToggleFreeze,
    ),
    bind(
        Training,
        &[ch('g')],
        "g",
        "DPS selection scope: per-matrix ↔ global, from the next selection",
        Action::ToggleScope,
    ),
    bind(
        Training,
        &[ch('e')],
        "e",
        "evaluate on the dev set now",
        Action::Evaluate,
    ),
    bind(
        Training,
        &[ch('c')],
        "c",
        "write a checkpoint now",
        Action::Checkpoint,
    ),
    bind(
        Training,
        &[ch('q')],
        "q",
        "quit: checkpoint and quit / quit / cancel",
        Action::Quit,
    ),
    bind(
        Training,
        &[ctrl('c')],
        "ctrl-c",
        "stop without checkpoint (twice: leave at once)",
        Action::Interrupt,
    ),
    // ------------------------------------------------------------ the replay viewer
    bind(
        Replay,
        &[back(ch(',')), ch('.')],
        ", / .",
        "one event back / forward",
        Action::ReplayStep,
    ),
    bind(
        Replay,
        &[back(key(Left)), key(Right)],
        "← / →",
        "one event back / forward; with the heatmap focused or zoomed: its cursor",
        Action::ReplayStep,
    ),
    bind(
        Replay,
        &[
            back(with(KeyModifiers::SHIFT, Left)),
            with(KeyModifiers::SHIFT, Right),
            back(key(PageUp)),
            key(PageDown),
        ],
        "shift ←/→, pgup/pgdn",
        "jump 2% of the events",
        Action::ReplayJump,
    ),
    bind(
        Replay,
        &[back(key(Home)), key(End)],
        "home / end",
        "start / end of the recording",
        Action::ReplayEnds,
    ),
    bind(
        Replay,
        &[ch('q'), ctrl('c')],
        "q / ctrl-c",
        "leave the replay",
        Action::Quit,
    ),
    // ------------------------------------------------------------ dashboard and replay
    bind(
        View,
        &[ch('l')],
        "l",
        "loss chart: log-y on / off",
        Action::LogY,
    ),
    bind(
        View,
        &[ch('s')],
        "s",
        "smoothing (EMA): 0 → 0.6 → 0.9 → 0.97",
        Action::Smoothing,
    ),
    bind(
        View,
        &[ch('v')],
        "v",
        "heatmap lens: next",
        Action::NextLens,
    ),
    bind(
        View,
        &[ch('1'), ch('2'), ch('3'), ch('4')],
        "1-4",
        "heatmap lens: 1 importance (log scale), 2 churn, 3 update |ΔW|/|W|, 4 kept share per head or row group",
        Action::PickLens,
    ),
    bind(
        View,
        &[ch('t'), back(ch('T'))],
        "t / T",
        "eval tasks: next / previous one drawn large in the dev panel",
        Action::NextDevTask,
    ),
    bind(
        View,
        &[key(Tab), back(key(BackTab))],
        "tab / shift-tab",
        "focus: loss chart → heatmap → event log",
        Action::Focus,
    ),
    bind(
        View,
        &[key(Up), key(Down), key(Left), key(Right)],
        "arrows",
        "heatmap: move the cursor · log: scroll · loss: zoom x",
        Action::Arrow,
    )
    .in_replay(Some(
        "↑/↓ heatmap: move the cursor · log: scroll · loss: zoom x",
    )),
    bind(
        View,
        &[back(key(PageUp)), key(PageDown)],
        "pgup / pgdn",
        "log: scroll a page",
        Action::Page,
    )
    .in_replay(None),
    bind(
        View,
        &[key(Enter)],
        "enter",
        "zoom into the matrix at the cursor (again: back); cut banner: details",
        Action::Zoom,
    ),
    bind(View, &[key(Esc)], "esc", "back", Action::Back),
    bind(
        View,
        &[],
        "mouse",
        "click a heatmap cell · wheel over charts: zoom x",
        Action::Mouse,
    ),
    bind(View, &[ch('?')], "?", "this help", Action::Help),
    // ------------------------------------------------------------ compare
    bind(
        Compare,
        &[ch('l')],
        "l",
        "loss chart: log-y on / off",
        Action::LogY,
    ),
    bind(
        Compare,
        &[ch('s')],
        "s",
        "smoothing (EMA): 0 → 0.6 → 0.9 → 0.97",
        Action::Smoothing,
    ),
    bind(
        Compare,
        &[key(Tab), back(key(BackTab))],
        "tab / shift-tab",
        "next / previous dev metric",
        Action::NextMetric,
    ),
    bind(
        Compare,
        &[ch('d')],
        "d",
        "configuration: only the keys that differ / all",
        Action::OnlyDiff,
    ),
    bind(
        Compare,
        &[back(key(Up)), key(Down)],
        "↑ / ↓",
        "scroll the configuration table",
        Action::Scroll,
    ),
    bind(
        Compare,
        &[back(key(PageUp)), key(PageDown)],
        "pgup / pgdn",
        "scroll the table a page",
        Action::Page,
    ),
    bind(
        Compare,
        &[back(key(Home))],
        "home",
        "back to the top of the table",
        Action::Ends,
    ),
    bind(Compare, &[ch('?')], "?", "this help", Action::Help),
    bind(
        Compare,
        &[ch('q'), key(Esc), ctrl('c')],
        "q / esc",
        "quit",
        Action::Quit,
    ),
    // ------------------------------------------------------------ watch
    bind(
        Watch,
        &[back(key(Up)), key(Down), back(ch('k')), ch('j')],
        "↑ / ↓, k / j",
        "select a run",
        Action::Scroll,
    )
    .short("↑/↓ select"),
    bind(
        Watch,
        &[back(key(Home)), key(End)],
        "home / end",
        "first / last run",
        Action::Ends,
    ),
    bind(
        Watch,
        &[key(Enter)],
        "enter",
        "open the run's dashboard, following its log (q comes back)",
        Action::Open,
    )
    .short("enter open"),
    bind(
        Watch,
        &[ch('s')],
        "s",
        "sort by name → status → progress → metric",
        Action::Sort,
    )
    .short("s sort"),
    bind(Watch, &[ch('r')], "r", "reverse the order", Action::Reverse).short("r reverse"),
    bind(
        Watch,
        &[ch('/')],
        "/",
        "filter: keep runs whose keys or folder contain the words typed",
        Action::Filter,
    )
    .short("/ filter"),
    bind(
        Watch,
        &[ch('f')],
        "f",
        "status filter: running → done → stopped → failed → pending → all",
        Action::StatusFilter,
    )
    .short("f status"),
    bind(
        Watch,
        &[key(Esc)],
        "esc",
        "clear the filters (none set: quit)",
        Action::Back,
    )
    .short("esc clear"),
    bind(Watch, &[ch('?')], "?", "this help", Action::Help).short("? help"),
    bind(
        Watch,
        &[ch('q'), ctrl('c')],
        "q / ctrl-c",
        "quit",
        Action::Quit,
    )
    .short("q quit"),
    bind(
        WatchFilter,
        &[],
        "letters",
        "type words to keep runs whose keys contain them",
        Action::Type,
    )
    .short("type words to keep runs whose keys contain them"),
    bind(
        WatchFilter,
        &[key(Enter), key(Esc)],
        "enter / esc",
        "done typing",
        Action::Back,
    )
    .short("enter/esc done"),
    bind(
        WatchFilter,
        &[key(Backspace)],
        "backspace",
        "erase a letter",
        Action::Erase,
    )
    .short("backspace"),
    // ------------------------------------------------------------ the help overlay itself
    bind(
        Help,
        &[back(key(Up)), key(Down)],
        "↑ / ↓",
        "scroll this help",
        Action::Scroll,
    ),
    bind(
        Help,
        &[back(key(PageUp)), key(PageDown)],
        "pgup / pgdn",
        "scroll a page",
        Action::Page,
    ),
    bind(
        Help,
        &[back(key(Home)), key(End)],
        "home / end",
        "top / bottom",
        Action::Ends,
    ),
    bind(
        Help,
        &[key(Esc), ch('?'), ch('q')],
        "esc / ? / q",
        "close this help",
        Action::Back,
    ),
];
