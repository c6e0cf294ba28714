//! The dashboard's key table: every key, what it does and how the help screen describes it.
//! [`crate::ui::input`] looks keys up here and the help overlay is generated from the same
//! table, so the two cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key with the modifiers it needs (`NONE`: any modifiers but control).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
    /// Whether the key goes the other way of its row: down, back, halve.
    pub back: bool,
}

const fn key(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
        back: false,
    }
}

const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}

const fn with(mods: KeyModifiers, code: KeyCode) -> Key {
    Key {
        code,
        mods,
        back: false,
    }
}

/// `k` as the key that goes the other way of its row.
const fn back(k: Key) -> Key {
    Key { back: true, ..k }
}

/// The help screen's sections, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Sent to the trainer.
    Training,
    /// Local to the screen.
    View,
    /// Only in the replay viewer.
    Replay,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Training, Section::View, Section::Replay];

    /// The section's heading on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Section::Training => "Training (sent to the trainer, applied between steps)",
            Section::View => "View",
            Section::Replay => "Replay",
        }
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PauseResume,
    /// `+` / `-`: p up or down.
    StepP,
    /// `[` / `]`: halve or double the peak learning rate.
    ScaleLr,
    CycleUpdateRatio,
    ToggleFreeze,
    ToggleScope,
    Evaluate,
    Checkpoint,
    /// Open the quit dialog (or leave a finished run).
    Quit,
    /// Stop without a checkpoint; a second press leaves at once.
    Interrupt,
    LogY,
    Smoothing,
    NextLens,
    /// `1`–`4`: the lens with that number.
    PickLens,
    /// `t` / `T`: the dev panel's next / previous eval task drawn large.
    NextDevTask,
    /// Tab / shift-tab: the next / previous panel.
    Focus,
    /// Arrow keys: move the heatmap cursor, scroll the log or zoom the loss chart.
    Arrow,
    /// Page up / down in the event log.
    Page,
    Zoom,
    Back,
    Help,
    /// Documented only: the mouse is not a key.
    Mouse,
    ReplayStep,
    ReplayJump,
    ReplayEnds,
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub section: Section,
    pub keys: &'static [Key],
    /// The keys as the help screen writes them.
    pub label: &'static str,
    /// What the help screen says they do.
    pub help: &'static str,
    pub action: Action,
}

const fn bind(
    section: Section,
    keys: &'static [Key],
    label: &'static str,
    help: &'static str,
    action: Action,
) -> Binding {
    Binding {
        section,
        keys,
        label,
        help,
        action,
    }
}

use KeyCode::{BackTab, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};
use Section::{Replay, Training, View};

/// Every dashboard key, in help-screen order.
pub const BINDINGS: &[Binding] = &[
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
        "update ratio: cycle 0.025 → 0.05 → 0.1",
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
        &[with(KeyModifiers::CONTROL, KeyCode::Char('c'))],
        "ctrl-c",
        "stop without checkpoint (twice: leave at once)",
        Action::Interrupt,
    ),
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
        "heatmap lens: 1 importance, 2 churn, 3 update, 4 selected",
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
    ),
    bind(
        View,
        &[back(key(PageUp)), key(PageDown)],
        "pgup / pgdn",
        "log: scroll a page",
        Action::Page,
    ),
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
    bind(
        Replay,
        &[back(key(Left)), key(Right)],
        "← / →",
        "one event back / forward",
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
        "start / end",
        Action::ReplayEnds,
    ),
];

impl Key {
    /// Whether `ev` is this key. A key without modifiers matches unless control is held; one
    /// with modifiers needs them.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        if ev.code != self.code {
            return false;
        }
        if self.mods.is_empty() {
            !ev.modifiers.contains(KeyModifiers::CONTROL)
        } else {
            ev.modifiers.contains(self.mods)
        }
    }
}

/// A key press found in the table: what it does, and whether it goes the other way of its row
/// (`-` for p, `[` for the learning rate, shift-tab, page up, ← in the replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pressed {
    pub action: Action,
    pub back: bool,
}

/// The binding of `ev` within `sections`: one that needs modifiers wins over a plain one.
pub fn lookup(sections: &[Section], ev: &KeyEvent) -> Option<Pressed> {
    let in_section = || BINDINGS.iter().filter(|b| sections.contains(&b.section));
    let find = |with_mods: bool| {
        in_section().find_map(|b| {
            let k = b
                .keys
                .iter()
                .find(|k| (!with_mods || !k.mods.is_empty()) && k.matches(ev))?;
            Some(Pressed {
                action: b.action,
                back: k.back,
            })
        })
    };
    find(true).or_else(|| find(false))
}

/// The bindings of one section, for the help screen.
pub fn section(section: Section) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.section == section)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_key_has_one_binding_per_section() {
        for s in Section::ALL {
            let keys: Vec<(KeyCode, KeyModifiers)> = section(s)
                .flat_map(|b| b.keys.iter().map(|k| (k.code, k.mods)))
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} is bound twice in {s:?}");
            }
        }
    }

    #[test]
    fn lookup_prefers_the_binding_with_modifiers() {
        let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(&[Training, View], &ctrl_c).unwrap().action,
            Action::Interrupt
        );
        let c = press(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(
            lookup(&[Training, View], &c).unwrap().action,
            Action::Checkpoint
        );
        let shift_left = press(Left, KeyModifiers::SHIFT);
        assert_eq!(
            lookup(&[Replay], &shift_left).unwrap().action,
            Action::ReplayJump
        );
        assert_eq!(
            lookup(&[Replay], &press(Left, KeyModifiers::NONE))
                .unwrap()
                .action,
            Action::ReplayStep
        );
        assert!(lookup(&[View], &press(KeyCode::Char('l'), KeyModifiers::CONTROL)).is_none());
    }

    #[test]
    fn the_table_says_which_way_a_key_goes() {
        let way = |sections: &[Section], code: KeyCode, mods: KeyModifiers| {
            let p = lookup(sections, &press(code, mods)).unwrap();
            (p.action, p.back)
        };
        let none = KeyModifiers::NONE;
        for (c, back) in [('+', false), ('=', false), ('-', true), ('_', true)] {
            assert_eq!(
                way(&[Training], KeyCode::Char(c), none),
                (Action::StepP, back)
            );
        }
        assert_eq!(
            way(&[Training], KeyCode::Char('['), none),
            (Action::ScaleLr, true)
        );
        assert_eq!(
            way(&[Training], KeyCode::Char(']'), none),
            (Action::ScaleLr, false)
        );
        assert_eq!(way(&[View], BackTab, none), (Action::Focus, true));
        assert_eq!(way(&[View], PageDown, none), (Action::Page, false));
        assert_eq!(
            way(&[Replay], Left, KeyModifiers::SHIFT),
            (Action::ReplayJump, true)
        );
        assert_eq!(way(&[Replay], End, none), (Action::ReplayEnds, false));
    }
}
