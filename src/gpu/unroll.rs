//! Full unrolling of marked WGSL loops, so that private arrays are indexed by constants.
//!
//! WGSL has no unroll attribute, and drivers differ in what they unroll. On lavapipe a
//! private array indexed by a loop variable becomes memory accessed lane by lane, and
//! `subgroupBroadcast` needs a constant lane; both need the loop gone. A loop written as
//!
//! ```text
//! for (var c = 0u; c < D; c++) { // unroll
//!     body
//! }
//! ```
//!
//! (the bound a literal such as `4u` or a constant named in `consts`) becomes `D` blocks
//! `{ const c = 0u; body }`, `{ const c = 1u; body }`, … so that `c` is a const-expression
//! in each copy. Marked loops may nest.

use crate::error::{Error, Result};

const MARK: &str = "// unroll";

/// Unrolls every marked loop of `wgsl`; `consts` gives the values of named bounds.
pub fn unroll_marked_loops(wgsl: &str, consts: &[(&str, u32)]) -> Result<String> {
    let lines: Vec<&str> = wgsl.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    unroll_lines(&lines, consts, &mut out)?;
    Ok(out.join("\n"))
}

fn unroll_lines(lines: &[&str], consts: &[(&str, u32)], out: &mut Vec<String>) -> Result<()> {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !line.trim_end().ends_with(MARK) {
            out.push(line.to_string());
            i += 1;
            continue;
        }
        let (indent, var, count) = parse_header(line, consts)?;
        let end = closing_line(lines, i)?;
        let mut body = Vec::new();
        unroll_lines(&lines[i + 1..end], consts, &mut body)?;
        for value in 0..count {
            out.push(format!("{indent}{{"));
            out.push(format!("{indent}    const {var} = {value}u;"));
            out.extend(body.iter().cloned());
            out.push(format!("{indent}}}"));
        }
        i = end + 1;
    }
    Ok(())
}

fn malformed(line: &str) -> Error {
    Error::Gpu {
        during: "unrolling WGSL loops".into(),
        message: format!(
            "expected `for (var x = 0u; x < BOUND; x++) {{ {MARK}` with a known bound, got `{}`",
            line.trim()
        ),
    }
}

/// Indentation, loop variable and trip count of a marked loop header.
fn parse_header<'a>(line: &'a str, consts: &[(&str, u32)]) -> Result<(&'a str, &'a str, u32)> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let rest = line
        .trim()
        .strip_prefix("for (var ")
        .ok_or_else(|| malformed(line))?;
    let (var, rest) = rest.split_once(" = 0u; ").ok_or_else(|| malformed(line))?;
    let rest = rest
        .strip_prefix(var)
        .and_then(|r| r.strip_prefix(" < "))
        .ok_or_else(|| malformed(line))?;
    let (bound, rest) = rest.split_once(';').ok_or_else(|| malformed(line))?;
    let expected_tail = format!(" {var}++) {{ {MARK}");
    if rest.trim_end() != expected_tail {
        return Err(malformed(line));
    }
    let count = match consts.iter().find(|(name, _)| *name == bound) {
        Some((_, value)) => *value,
        None => bound
            .strip_suffix('u')
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| malformed(line))?,
    };
    Ok((indent, var, count))
}

/// Index of the line holding the `}` that closes the block opened on line `open`.
fn closing_line(lines: &[&str], open: usize) -> Result<usize> {
    let mut depth = 0i64;
    for (index, line) in lines.iter().enumerate().skip(open) {
        let code = line.split("//").next().unwrap_or("");
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        if depth == 0 {
            return Ok(index);
        }
    }
    Err(malformed(lines[open]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrolls_nested_loops_with_named_and_literal_bounds() {
        let src = "a\n  for (var r = 0u; r < ROWS; r++) { // unroll\n    for (var c = 0u; c < 2u; c++) { // unroll\n      x[r * 2u + c] = 1.0;\n    }\n  }\nb";
        let out = unroll_marked_loops(src, &[("ROWS", 3)]).unwrap();
        assert_eq!(out.matches("x[r * 2u + c] = 1.0;").count(), 6);
        assert!(out.contains("const r = 2u;"));
        assert!(out.contains("const c = 1u;"));
        assert!(!out.contains("for ("));
        assert!(out.starts_with("a\n") && out.ends_with("\nb"));
    }

    #[test]
    fn unmarked_loops_stay_and_bad_headers_are_errors() {
        let plain = "for (var i = 0u; i < n; i++) {\n}";
        assert_eq!(unroll_marked_loops(plain, &[]).unwrap(), plain);
        assert!(unroll_marked_loops("for (var i = 0u; i < N; i++) { // unroll\n}", &[]).is_err());
        assert!(unroll_marked_loops("for (var i = 0u; i < 2u; i++) { // unroll\n", &[]).is_err());
    }
}
