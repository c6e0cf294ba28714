//! The board as a [`Session`] of the shared event loop ([`crate::ui::event_loop`]): the logs are
//! read twice a second, keys go to the board, and enter shows the run's dashboard, following
//! its log ([`super::follow`]), until `q` brings the board back.

use super::follow::{Follow, REFRESH};
use super::state::{Action, WatchState};
use super::view::draw;
use crate::core::events::Command;
use crate::ui::event_loop::{self, Session};
use crate::ui::terminal::TerminalGuard;
use crossterm::event::{Event as CtEvent, KeyEventKind};
use ratatui::Frame;
use std::path::Path;
use std::time::Instant;

/// The board, or the dashboard of the run opened from it.
pub struct Board {
    pub state: WatchState,
    /// The run shown instead of the board.
    pub run: Option<Follow>,
    last_read: Option<Instant>,
    quit: bool,
}

impl Board {
    /// The board of every run under `root`, read once.
    pub fn new(root: &Path) -> Board {
        let mut state = WatchState::new(root);
        state.refresh();
        Board {
            state,
            run: None,
            last_read: Some(Instant::now()),
            quit: false,
        }
    }

    /// Read the logs of what is shown now, at most every [`REFRESH`] (`now`: the time).
    pub fn read_logs(&mut self, now: Instant) -> bool {
        if self
            .last_read
            .is_some_and(|t| now.saturating_duration_since(t) < REFRESH)
        {
            return false;
        }
        self.last_read = Some(now);
        match &mut self.run {
            Some(f) => f.read(),
            None => {
                self.state.refresh();
                true
            }
        }
    }
}

impl Session for Board {
    fn input(&mut self, ev: CtEvent) -> Vec<Command> {
        if let Some(f) = &mut self.run {
            f.input(ev);
            if f.closed() {
                self.run = None;
                // Read the board again at once.
                self.last_read = None;
            }
            return Vec::new();
        }
        if let CtEvent::Key(k) = ev {
            if k.kind == KeyEventKind::Release {
                return Vec::new();
            }
            match self.state.on_key(k) {
                Action::Quit => self.quit = true,
                Action::Open(run) => {
                    self.run = Some(Follow::open(&run));
                    self.last_read = Some(Instant::now());
                }
                Action::None => {}
            }
        }
        Vec::new()
    }

    fn poll(&mut self) -> bool {
        self.read_logs(Instant::now())
    }

    fn draw(&mut self, frame: &mut Frame) {
        match &mut self.run {
            Some(f) => f.draw(frame),
            None => {
                self.state.area = frame.area();
                draw(frame, &self.state);
            }
        }
    }

    fn finished(&self) -> bool {
        self.quit
    }
}

/// Show the board of every run under `root` until the user quits.
pub fn watch(root: &Path) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::new()?;
    event_loop::run(&mut guard.terminal, &mut Board::new(root), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Event;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn press(b: &mut Board, code: KeyCode) {
        b.input(CtEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn step(n: usize) -> String {
        Event::Step {
            step: n,
            epoch: 0.0,
            loss: 0.5,
            lr: 1e-3,
            examples_per_sec: 1.0,
            grad_norm: None,
            step_seconds: Some(0.1),
            run_seconds: Some(n as f64 * 0.1),
        }
        .to_json_line()
            + "\n"
    }

    fn screen(b: &mut Board) -> String {
        let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
        t.draw(|f| b.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..30)
            .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The board as a session of the shared loop: enter follows the run's log as it grows, `q`
    /// comes back to the board, `?` opens its help, and `q` quits.
    #[test]
    fn the_board_opens_a_run_follows_it_and_comes_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run-a");
        std::fs::create_dir_all(&dir).unwrap();
        let start = Event::test_start("rte", "vanilla", 10, serde_json::json!({"seed": 1}));
        let log = dir.join("events.jsonl");
        std::fs::write(&log, start.to_json_line() + "\n" + &step(1)).unwrap();
        let mut b = Board::new(tmp.path());
        assert!(screen(&mut b).contains("1/10"));
        assert!(
            !b.read_logs(Instant::now()),
            "not again before the refresh interval"
        );

        press(&mut b, KeyCode::Enter);
        let shown = b.run.as_ref().expect("enter opens the run");
        assert_eq!(shown.app.run.step, 1);
        assert!(screen(&mut b).contains("replay 2/2 events"));
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, step(2).as_bytes()).unwrap();
        assert!(b.read_logs(Instant::now() + REFRESH));
        assert_eq!(
            b.run.as_ref().unwrap().app.run.step,
            2,
            "it follows the log"
        );
        assert!(!b.finished());

        press(&mut b, KeyCode::Char('q'));
        assert!(b.run.is_none(), "q comes back to the board");
        assert!(!b.finished());
        assert!(b.poll(), "the board is read again at once");
        assert!(screen(&mut b).contains("2/10"));

        press(&mut b, KeyCode::Char('?'));
        assert!(b.state.help);
        assert!(screen(&mut b).contains("Watch, while typing a filter"));
        press(&mut b, KeyCode::Char('q'));
        assert!(!b.state.help && !b.finished(), "q closes the help first");
        press(&mut b, KeyCode::Char('q'));
        assert!(b.finished());
    }
}
