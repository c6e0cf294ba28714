//! The key table of every screen: each key, what it does and how the help screen describes it.
//! [`crate::ui::input`], the compare screen and `watch` look keys up here, and each screen's
//! help overlay ([`crate::ui::screens::help`]) is generated from the same table, so the two
//! cannot drift apart.

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

const fn ctrl(c: char) -> Key {
    with(KeyModifiers::CONTROL, KeyCode::Char(c))
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

/// A group of keys: a screen's, or a mode's within it. Each help screen shows the sections of
/// its [`Context`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Sent to the trainer.
    Training,
    /// Only in the replay viewer.
    Replay,
    /// Local to the dashboard (live or replayed).
    View,
    /// The compare screen.
    Compare,
    /// The `watch` board.
    Watch,
    /// The `watch` board while typing a filter.
    WatchFilter,
    /// Inside a help overlay.
    Help,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Training,
        Section::Replay,
        Section::View,
        Section::Compare,
        Section::Watch,
        Section::WatchFilter,
        Section::Help,
    ];

    /// The section's heading on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Section::Training => "Training (sent to the trainer, applied between steps)",
            Section::Replay => "Replay (a recording: the training keys are off)",
            Section::View => "View",
            Section::Compare => "Compare",
            Section::Watch => "Watch",
            Section::WatchFilter => "Watch, while typing a filter",
            Section::Help => "This help",
        }
    }
}

/// Which screen a help overlay belongs to: it lists only the keys that do something there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The live dashboard.
    Live,
    /// The replay viewer (also a run opened from `watch`).
    Replay,
    Compare,
    Watch,
}

impl Context {
    /// The sections shown, in order.
    pub fn sections(self) -> &'static [Section] {
        match self {
            Context::Live => &[Section::Training, Section::View, Section::Help],
            Context::Replay => &[Section::Replay, Section::View, Section::Help],
            Context::Compare => &[Section::Compare, Section::Help],
            Context::Watch => &[Section::Watch, Section::WatchFilter, Section::Help],
        }
    }

    /// The rows of the help screen: each section with the (keys, what they do) of its
    /// bindings that do something in this context.
    pub fn rows(self) -> Vec<(Section, Vec<(&'static str, &'static str)>)> {
        self.sections()
            .iter()
            .map(|s| {
                let rows = section(*s)
                    .filter_map(|b| Some((b.label, b.help_in(self)?)))
                    .collect();
                (*s, rows)
            })
            .collect()
    }
}

impl Context {
    pub const ALL: [Context; 4] = [
        Context::Live,
        Context::Replay,
        Context::Compare,
        Context::Watch,
    ];

    /// A short name (the markers of the guide's key tables: `<!-- keys:live -->`).
    pub fn name(self) -> &'static str {
        match self {
            Context::Live => "live",
            Context::Replay => "replay",
            Context::Compare => "compare",
            Context::Watch => "watch",
        }
    }

    /// The keys of this screen as a Markdown table, a bold row naming each section (the guide
    /// holds these tables; `tests/ui_help.rs` keeps them equal).
    pub fn markdown(self) -> String {
        let mut out = String::from("| key | action |\n|---|---|\n");
        for (section, rows) in self.rows() {
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!("| **{}** | |\n", section.title()));
            for (label, what) in rows {
                let what = what.replace('|', "\\|");
                out.push_str(&format!("| `{label}` | {what} |\n"));
            }
        }
        out
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
    /// Open the quit dialog (or leave a finished run, a replay, a screen).
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
    /// Page up / down: the event log, a table, the help.
    Page,
    /// One row or line up / down: a table, a list, the help.
    Scroll,
    /// The first / last row (home / end).
    Ends,
    Zoom,
    /// Esc: back, close, clear.
    Back,
    Help,
    /// Documented only: the mouse is not a key.
    Mouse,
    ReplayStep,
    ReplayJump,
    ReplayEnds,
    /// Compare: the next / previous dev metric.
    NextMetric,
    /// Compare: only the configuration keys that differ / all.
    OnlyDiff,
    /// Watch: open the selected run.
    Open,
    Sort,
    Reverse,
    /// Watch: start typing a filter.
    Filter,
    StatusFilter,
    /// Documented only: typing letters into a filter.
    Type,
    /// Erase a letter of a filter.
    Erase,
}

/// How the replay's help shows a row of the [`Section::View`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InReplay {
    /// As in the live dashboard.
    Same,
    /// With this text instead.
    Says(&'static str),
    /// Not at all: the replay gives its keys to something else.
    Hidden,
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
    /// How the replay's help shows the row.
    pub replay: InReplay,
    /// The row in a screen's one-line footer of key hints, where it has one.
    pub short: Option<&'static str>,
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
        replay: InReplay::Same,
        short: None,
    }
}

impl Binding {
    /// The row with this text in the replay's help (`None`: not listed there).
    const fn in_replay(self, text: Option<&'static str>) -> Binding {
        Binding {
            replay: match text {
                Some(t) => InReplay::Says(t),
                None => InReplay::Hidden,
            },
            ..self
        }
    }

    /// The row with this hint in its screen's footer.
    const fn short(self, hint: &'static str) -> Binding {
        Binding {
            short: Some(hint),
            ..self
        }
    }

    /// What the help of `ctx` says the row does (`None`: not listed there).
    pub fn help_in(&self, ctx: Context) -> Option<&'static str> {
        match (ctx, self.replay) {
            (Context::Replay, InReplay::Hidden) => None,
            (Context::Replay, InReplay::Says(t)) => Some(t),
            _ => Some(self.help),
        }
    }
}

/// The footer hints of a section: its rows' short forms joined by ` · `.
pub fn hints(section: Section) -> String {
    self::section(section)
        .filter_map(|b| b.short)
        .collect::<Vec<_>>()
        .join(" · ")
}

mod table;
pub use table::BINDINGS;

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
    /// The section of the row found.
    pub section: Section,
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
                section: b.section,
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
    use KeyCode::{BackTab, End, Left, PageDown};
    use Section::{Replay, Training, View};

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
