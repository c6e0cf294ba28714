//! Colours and styles, with a plain (no colour) variant for `NO_COLOR`.
//!
//! In plain mode every style is built from modifiers only (bold, dim, reversed, underlined) and
//! the heatmap uses shade characters instead of a colour ramp.

use ratatui::style::{Color, Modifier, Style};

/// The styles the UI draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours may be used. `false` when `NO_COLOR` is set (to anything non-empty).
    pub color: bool,
}

/// Shade characters used for heatmap cells when colours are off, from low to high.
pub const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// Viridis anchor colours, low to high (perceptually uniform, readable for colour-blind users).
const VIRIDIS: [(u8, u8, u8); 10] = [
    (68, 1, 84),
    (72, 40, 120),
    (62, 74, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (109, 205, 89),
    (180, 222, 44),
    (253, 231, 37),
];

impl Theme {
    /// Colours unless the `NO_COLOR` environment variable is set and non-empty
    /// (<https://no-color.org>).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    /// The colour theme.
    pub fn colored() -> Theme {
        Theme { color: true }
    }

    /// The theme without colours.
    pub fn plain() -> Theme {
        Theme { color: false }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// Ordinary text.
    pub fn text(&self) -> Style {
        Style::new()
    }
    /// Secondary text (labels, axes).
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    /// Headings and panel titles.
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    /// The border of the focused panel.
    pub fn focus_border(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Cyan)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    /// The border of an unfocused panel.
    pub fn border(&self) -> Style {
        self.dim()
    }
    /// Key names in hints and help.
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    /// Good news: running, finished, improving metrics.
    pub fn ok(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }
    /// Warnings and pending changes.
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    /// Errors.
    pub fn error(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
    /// The error banner across the dashboard.
    pub fn banner(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
    /// The highlighted row of a list or the cursor of a form.
    pub fn selected(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    /// Raw loss line.
    pub fn loss_raw(&self) -> Style {
        self.fg(Color::Rgb(120, 150, 200))
    }
    /// Min/max envelope of decimated loss.
    pub fn loss_envelope(&self) -> Style {
        self.fg(Color::Rgb(60, 75, 110))
    }
    /// Smoothed (EMA) loss line.
    pub fn loss_ema(&self) -> Style {
        self.fg(Color::Rgb(255, 170, 60))
            .add_modifier(Modifier::BOLD)
    }
    /// Markers where a hyperparameter changed.
    pub fn marker(&self) -> Style {
        self.fg(Color::Magenta)
    }
    /// Background of subnetwork stages in charts (`None` in plain mode).
    pub fn subnet_bg(&self) -> Option<Color> {
        self.color.then_some(Color::Rgb(28, 36, 52))
    }
    /// Colour of the n-th eval metric series.
    pub fn series(&self, n: usize) -> Style {
        const C: [Color; 6] = [
            Color::LightGreen,
            Color::LightCyan,
            Color::LightMagenta,
            Color::LightYellow,
            Color::LightBlue,
            Color::LightRed,
        ];
        self.fg(C[n % C.len()])
    }

    /// The ramp colour for `t` in `0..=1` (viridis).
    pub fn ramp(t: f64) -> Color {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let x = t * (VIRIDIS.len() - 1) as f64;
        let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
        let f = x - i as f64;
        let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
        let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
        Color::Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The shade character for `t` in `0..=1` (plain mode).
    pub fn shade(t: f64) -> char {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        SHADES[((t * (SHADES.len() - 1) as f64).round() as usize).min(SHADES.len() - 1)]
    }

    /// A colour that reads well on top of `ramp(t)`.
    pub fn contrast(t: f64) -> Color {
        if t > 0.6 {
            Color::Black
        } else {
            Color::White
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_ends_and_clamps() {
        assert_eq!(Theme::ramp(0.0), Color::Rgb(68, 1, 84));
        assert_eq!(Theme::ramp(1.0), Color::Rgb(253, 231, 37));
        assert_eq!(Theme::ramp(7.0), Theme::ramp(1.0));
        assert_eq!(Theme::ramp(f64::NAN), Theme::ramp(0.0));
        assert_eq!(Theme::shade(0.0), ' ');
        assert_eq!(Theme::shade(1.0), '█');
    }

    #[test]
    fn plain_theme_has_no_colours() {
        let t = Theme::plain();
        for s in [
            t.text(),
            t.title(),
            t.key(),
            t.ok(),
            t.warn(),
            t.loss_ema(),
            t.series(2),
        ] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert_eq!(t.subnet_bg(), None);
    }
}
