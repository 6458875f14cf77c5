//! GitHub-flavoured Markdown tables built from columns, so that a header, its delimiter row
//! and every body row always have the same number of cells, and cell text cannot break the
//! table (`|` is escaped, line breaks become spaces).

/// How a column's cells are aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table under construction.
#[derive(Clone, Debug, Default)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: impl IntoIterator<Item = (impl Into<String>, Align)>) -> Self {
        Table {
            columns: columns.into_iter().map(|(t, a)| (t.into(), a)).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are left empty, extra cells are an error of the caller
    /// and are dropped (the table stays valid).
    pub fn row(&mut self, cells: impl IntoIterator<Item = impl Into<String>>) -> &mut Self {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.columns.len(), String::new());
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
        let mut out = line(self.columns.iter().map(|(t, _)| escape(t)).collect());
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
            out.push_str(&line(row.iter().map(|c| escape(c)).collect()));
        }
        out
    }
}

/// A collapsed section: `<details>` with its summary line, and blank lines around the body
/// so that Markdown inside it (tables) renders.
pub fn details(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n\n{}\n\n</details>\n",
        summary.replace('<', "&lt;"),
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

/// Cell text that cannot end the cell or the row.
pub fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
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
}
