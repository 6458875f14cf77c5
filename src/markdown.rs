//! Markdown at one boundary. Every string that comes from a file or a device (adapter,
//! driver, run id, commit, settings, configuration, skip reason, kernel and family names)
//! goes into Markdown through [`text`], which escapes everything Markdown and HTML would
//! interpret, and into charts through [`chart_label`]. Tables are built from columns
//! ([`Table`]), so a header, its delimiter row and every body row have the same number of
//! cells; a cell is text ([`text`]) unless it is Markdown attnbench wrote ([`Cell::md`]).

/// How a column's cells are aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// One cell of a [`Table`]: text, escaped when rendered (what a `String` becomes), or
/// Markdown attnbench wrote (emphasis around its own numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Shown as it is ([`text`]).
    Text(String),
    /// Markdown, kept (only line breaks and unescaped `|` are made cell-safe).
    Markdown(String),
}

impl Cell {
    /// A cell of Markdown attnbench wrote; strings from files go in as text.
    pub fn md(markdown: impl Into<String>) -> Cell {
        Cell::Markdown(markdown.into())
    }

    fn render(&self) -> String {
        match self {
            Cell::Text(t) => text(t),
            Cell::Markdown(m) => cell_safe(m),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_string())
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Cell {
        Cell::Text(text.clone())
    }
}

/// A table under construction.
#[derive(Clone, Debug, Default)]
pub struct Table {
    columns: Vec<(Cell, Align)>,
    rows: Vec<Vec<Cell>>,
    /// Whether its text cells are Markdown attnbench wrote ([`Table::of_markdown`]).
    markdown: bool,
}

impl Table {
    /// A table with these columns (their titles are text).
    pub fn new(columns: impl IntoIterator<Item = (impl Into<Cell>, Align)>) -> Self {
        Table {
            columns: columns.into_iter().map(|(t, a)| (t.into(), a)).collect(),
            rows: Vec::new(),
            markdown: false,
        }
    }

    /// A table whose cells are Markdown attnbench wrote from its own measurements (the
    /// targets' reports: emphasis around their numbers), not text from a file.
    pub fn of_markdown(columns: impl IntoIterator<Item = (impl Into<Cell>, Align)>) -> Self {
        Table {
            markdown: true,
            ..Table::new(columns)
        }
    }

    /// Appends a row; missing cells are left empty, extra cells are an error of the caller
    /// and are dropped (the table stays valid).
    pub fn row(&mut self, cells: impl IntoIterator<Item = impl Into<Cell>>) -> &mut Self {
        let mut cells: Vec<Cell> = cells
            .into_iter()
            .map(Into::into)
            .map(|c| match c {
                Cell::Text(t) if self.markdown => Cell::Markdown(t),
                c => c,
            })
            .collect();
        cells.resize(self.columns.len(), Cell::Text(String::new()));
        self.rows.push(cells);
        self
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The Markdown text, ending with a newline.
    pub fn render(&self) -> String {
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut out = line(self.columns.iter().map(|(t, _)| t.render()).collect());
        out.push_str(&format!(
            "|{}|\n",
            self.columns
                .iter()
                .map(|(_, a)| match a {
                    Align::Left => "---",
                    Align::Right => "---:",
                })
                .collect::<Vec<_>>()
                .join("|")
        ));
        for row in &self.rows {
            out.push_str(&line(row.iter().map(Cell::render).collect()));
        }
        out
    }
}

/// A collapsed section: `<details>` with its summary line (text, HTML-escaped: Markdown
/// is not read inside an HTML block), and blank lines around the body so that Markdown
/// inside it (tables) renders.
pub fn details(summary: &str, body: &str) -> String {
    let summary: String = single_line(summary)
        .chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!(
        "<details><summary>{summary}</summary>\n\n{}\n\n</details>\n",
        body.trim_end()
    )
}

/// The lines (1-based) of HTML blocks that Markdown right after them would be swallowed
/// by: a line starting with `<` must be followed by a blank line or another such line.
pub fn html_block_errors(markdown: &str) -> Vec<usize> {
    let lines: Vec<&str> = markdown.lines().collect();
    (0..lines.len().saturating_sub(1))
        .filter(|&i| {
            let next = lines[i + 1].trim();
            lines[i].trim_start().starts_with('<') && !next.is_empty() && !next.starts_with('<')
        })
        .map(|i| i + 1)
        .collect()
}

/// `raw` on one line: every control character (line breaks, tabs, escapes, Unicode line
/// and paragraph separators) becomes a space.
fn single_line(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// `raw` (text from a file or a device) as inline Markdown that renders as exactly that
/// text, on one line: line breaks and other control characters become spaces, and every
/// character Markdown or HTML would read as markup is backslash-escaped — `\` `` ` `` `*`
/// `[` `]` `<` `>` `|` `~` `$` `&` `#` `!` and `_` (not within a word, where GitHub never
/// reads it as emphasis) — so that no heading, list, link, image, HTML tag, comment (such
/// as the README's `<!-- results: … -->` markers), code span, math or table cell can start
/// or end inside it. The one function through which file text enters Markdown.
pub fn text(raw: &str) -> String {
    let chars: Vec<char> = single_line(raw).chars().collect();
    let mut out = String::with_capacity(raw.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '~' | '$' | '&' | '#' | '!' => true,
            '_' => !(word(i.checked_sub(1)) && word(Some(i + 1))),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `raw` (a name or configuration from a file or the disk) in a code span when nothing in
/// it could end the span or act inside it — no backtick, `|`, `<`, `>` or control
/// character, no space at either end — else as [`text`].
pub fn code(raw: &str) -> String {
    let spannable = !raw.is_empty()
        && raw.trim() == raw
        && !raw
            .chars()
            .any(|c| matches!(c, '`' | '|' | '<' | '>') || c.is_control());
    if spannable {
        format!("`{raw}`")
    } else {
        text(raw)
    }
}

/// Markdown attnbench wrote, made safe for a table cell: line breaks become spaces and a
/// `|` not already escaped is.
fn cell_safe(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut backslashes = 0;
    for c in single_line(markdown).chars() {
        if c == '|' && backslashes % 2 == 0 {
            out.push('\\');
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
        out.push(c);
    }
    out
}

/// A report attnbench wrote into a device folder (`targets.md`, `suite.md`), embedded in
/// that folder's README: its lines, tables and emphasis are kept, but what would make it
/// more than a report is escaped — `<` and `>` (HTML, and so any comment marker), `[` and
/// `]` (links and images), `$` (math) — and control characters other than line breaks
/// become spaces. The folder may come from elsewhere, so this runs on every read.
pub fn embedded(report: &str) -> String {
    let mut out = String::with_capacity(report.len());
    for c in report.chars() {
        match c {
            '\n' => out.push('\n'),
            '<' | '>' | '[' | ']' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `raw` (text from a file or a device) as a chart label: control characters become
/// spaces and it is cut to 200 characters (with an ellipsis), so a label can neither
/// break the SVG it is written into nor push the chart off its canvas. The one function
/// through which file text enters a chart.
pub fn chart_label(raw: &str) -> String {
    const MAX: usize = 200;
    let line = single_line(raw);
    if line.chars().count() <= MAX {
        return line;
    }
    let mut cut: String = line.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

/// The cell counts of every table in `markdown` that does not match its header: (line
/// number, header cells, cells found). Empty for valid tables. Used by the tests on every
/// generated file.
pub fn table_errors(markdown: &str) -> Vec<(usize, usize, usize)> {
    let cells = |line: &str| {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        let mut count = 1;
        let mut escaped = false;
        for c in inner.chars() {
            match c {
                '\\' => escaped = !escaped,
                '|' if !escaped => count += 1,
                _ => escaped = false,
            }
            if c != '\\' {
                escaped = false;
            }
        }
        count
    };
    let is_delimiter = |line: &str| {
        let t = line.trim();
        t.starts_with('|')
            && t.contains('-')
            && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
    };
    let lines: Vec<&str> = markdown.lines().collect();
    let mut errors = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        if is_delimiter(lines[i]) && lines[i - 1].trim().starts_with('|') {
            let header = cells(lines[i - 1]);
            if cells(lines[i]) != header {
                errors.push((i + 1, header, cells(lines[i])));
            }
            let mut j = i + 1;
            while j < lines.len() && lines[j].trim().starts_with('|') {
                if cells(lines[j]) != header {
                    errors.push((j + 1, header, cells(lines[j])));
                }
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_tables_are_valid_and_the_checker_finds_broken_ones() {
        let mut t = Table::new([("a", Align::Left), ("b", Align::Right)]);
        t.row(["x|y", "1"]).row(["only one"]);
        t.row([Cell::md("**3.00×**"), Cell::md("a\\|b | c")]);
        let md = t.render();
        assert!(table_errors(&md).is_empty(), "{md}");
        assert!(md.contains("x\\|y"));
        let broken = "| a | b | c |\n|---|---|\n| 1 | 2 | 3 |\n";
        assert_eq!(table_errors(broken), vec![(2, 3, 2)]);
        let short_row = "| a | b |\n|---|---|\n| 1 |\n";
        assert_eq!(table_errors(short_row), vec![(3, 2, 1)]);
        let folded = details("all", &md);
        assert!(table_errors(&folded).is_empty() && html_block_errors(&folded).is_empty());
        assert_eq!(html_block_errors("<details>\n| a |\n"), vec![1]);
    }

    /// Text from a file renders as itself: no heading, link, HTML, comment or cell break.
    #[test]
    fn text_escapes_everything_markdown_would_read() {
        let hostile = "GPU\n# owned <script>x</script> [a](javascript:1) ![i](x) `c` *e* _u_ \
                       | ~s~ $m$ &amp; <!-- results: end --> \\";
        let t = text(hostile);
        assert!(!t.contains('\n'));
        // Every character Markdown or HTML would read is escaped (a `\` before it).
        let chars: Vec<char> = t.chars().collect();
        let mut escaped = false;
        for &c in &chars {
            if !escaped && "<>[]`*~$&!#|_".contains(c) {
                panic!("unescaped {c:?} in {t}");
            }
            escaped = !escaped && c == '\\';
        }
        // Within a word an underscore is not markup, and stays as it is.
        assert_eq!(text("flash_f16 (Vulkan) 1.2-3"), "flash_f16 (Vulkan) 1.2-3");
        let mut table = Table::new([("name", Align::Left)]);
        table.row([hostile]);
        assert!(table_errors(&table.render()).is_empty());
        assert_eq!(chart_label("a\u{1b}[31mb\nc"), "a [31mb c");
        assert_eq!(chart_label(&"x".repeat(500)).chars().count(), 200);
        let report = embedded("| a | b |\n|---|---|\n| <b>x</b> | [l](u) |\n");
        assert!(
            report.contains("\\<b\\>") && report.contains("\\[l\\]") && report.contains("| a |")
        );
    }
}
