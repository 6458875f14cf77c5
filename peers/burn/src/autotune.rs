//! What Burn's autotune chose for the attention, read from CubeCL's decision log (one JSON
//! object per tuning decision, written for tools: `autotune.decisions` in its
//! configuration). The attention's decision is the one whose candidates include the
//! attention tune set's own (`fallback`, `blackbox_accelerated_…`, beside `unit`); other
//! decisions (the fallback's own matmuls and softmax, whose reduce candidates are also
//! called `unit`, `plane`, `cube`) are not it.

use attnbench::targets::AutotuneCandidate;
use serde_json::Value;
use std::path::Path;

/// The attention's last decision in the log at `path`: the name of the candidate chosen
/// and every candidate, fastest first. `None` when there is none (no log, or a cache hit).
pub fn attention_decision(path: &Path) -> Option<(String, Vec<AutotuneCandidate>)> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|decision| decision_of(&decision))
        .next_back()
}

/// One decision, when it is the attention's.
fn decision_of(decision: &Value) -> Option<(String, Vec<AutotuneCandidate>)> {
    let fastest = decision.get("fastest_index")?.as_u64()?;
    let mut chosen = None;
    let mut candidates = Vec::new();
    for result in decision.get("results")?.as_array()? {
        let outcome = result.get("outcome")?;
        let candidate = if let Some(ok) = outcome.get("Ok") {
            let name = ok.get("name")?.as_str()?.to_string();
            if ok.get("index").and_then(Value::as_u64) == Some(fastest) {
                chosen = Some(name.clone());
            }
            AutotuneCandidate {
                name,
                median_ms: ok
                    .get("computation")
                    .and_then(|c| duration_ms(c.get("median")?)),
                error: None,
            }
        } else {
            let err = outcome.get("Err")?;
            // `{"Rejected": {"name": …, "reason": …}}` and its siblings.
            let (kind, body) = err.as_object()?.iter().next()?;
            AutotuneCandidate {
                name: body.get("name")?.as_str()?.to_string(),
                median_ms: None,
                error: Some(format!("{kind}: {}", first_text(body).unwrap_or_default())),
            }
        };
        candidates.push(candidate);
    }
    let is_attention = candidates
        .iter()
        .any(|c| c.name == "fallback" || c.name.starts_with("blackbox_accelerated"));
    Some((chosen?, candidates)).filter(|_| is_attention)
}

/// A serialized `Duration` (`{"secs": …, "nanos": …}`) in ms.
fn duration_ms(value: &Value) -> Option<f64> {
    let secs = value.get("secs")?.as_f64()?;
    let nanos = value.get("nanos")?.as_f64()?;
    Some(secs * 1e3 + nanos / 1e6)
}

/// The first text other than the name in an error's body: its reason.
fn first_text(body: &Value) -> Option<String> {
    body.as_object()?
        .iter()
        .filter(|(k, _)| k.as_str() != "name")
        .find_map(|(_, v)| v.as_str())
        .map(|t| t.lines().next().unwrap_or("").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attention_decision_is_read_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let attention = r#"{"key":{},"fastest_index":3,"fastest_time":{"secs":0,"nanos":5},"results":[
            {"outcome":{"Ok":{"name":"unit","index":3,"computation":{"mean":{"secs":0,"nanos":1},"median":{"secs":0,"nanos":48000000},"variance":{"secs":0,"nanos":0},"min":{"secs":0,"nanos":1},"max":{"secs":0,"nanos":1}}}}},
            {"outcome":{"Err":{"Rejected":{"name":"blackbox_accelerated_2_planes_p_1-1","reason":"no cmma\nmore"}}}}]}"#
            .replace('\n', "");
        let matmul = r#"{"key":{},"fastest_index":0,"results":[{"outcome":{"Ok":{"name":"unit","index":0,"computation":{"median":{"secs":1,"nanos":0}}}}},{"outcome":{"Err":{"Skip":{"name":"plane"}}}}]}"#;
        std::fs::write(&path, format!("{attention}\n{matmul}\n")).unwrap();
        let (chosen, candidates) = attention_decision(&path).unwrap();
        assert_eq!(chosen, "unit");
        assert_eq!(candidates[0].median_ms, Some(48.0));
        assert_eq!(candidates[1].error.as_deref(), Some("Rejected: no cmma"));
        assert!(attention_decision(&dir.path().join("none")).is_none());
    }
}
