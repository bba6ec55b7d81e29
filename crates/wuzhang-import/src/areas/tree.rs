//! The tree: unique codes, parents that exist one level up, no cycles, and the order in
//! which records can be written.

use std::collections::HashMap;

use wuzhang_domain::area::AreaLevel;

use super::{FeatureIssue, IssueKind, ParsedFeature, StoreLevels};

/// Position (in `features`) of the first feature with each code.
fn first_by_code(features: &[ParsedFeature]) -> HashMap<&str, usize> {
    let mut first = HashMap::with_capacity(features.len());
    for (pos, f) in features.iter().enumerate() {
        first.entry(f.area.code.as_str()).or_insert(pos);
    }
    first
}

/// Parent of each feature within the file (position in `features`), if it is there.
fn parent_positions(features: &[ParsedFeature]) -> Vec<Option<usize>> {
    let first = first_by_code(features);
    features
        .iter()
        .map(|f| {
            f.area
                .parent_code
                .as_ref()
                // An area naming itself is reported while parsing, not as a cycle.
                .filter(|p| **p != f.area.code)
                .and_then(|p| first.get(p.as_str()).copied())
        })
        .collect()
}

/// Duplicate codes, parents that are missing or not one level up (looking in the file
/// first, then in the store through `store_levels`), and cycles of parent codes (one issue
/// per cycle, on its first feature).
pub fn check_tree(features: &[ParsedFeature], store_levels: StoreLevels<'_>) -> Vec<FeatureIssue> {
    let mut issues = Vec::new();
    let first = first_by_code(features);
    for (pos, f) in features.iter().enumerate() {
        let code = f.area.code.as_str();
        let issue = |kind, reason: String| FeatureIssue::new(f.index, Some(code), kind, reason);
        let first_pos = first[code];
        if first_pos != pos {
            issues.push(issue(
                IssueKind::DuplicateCode,
                format!(
                    "duplicate code {code}, first used by feature {}",
                    features[first_pos].index
                ),
            ));
        }
        let Some(parent) = f.area.parent_code.as_ref().filter(|p| **p != f.area.code) else {
            continue;
        };
        let level = f.area.level;
        let Some(wanted) = level.parent_level() else {
            issues.push(issue(
                IssueKind::WrongParentLevel,
                format!("a {level} has no parent, but parent_code is {parent}"),
            ));
            continue;
        };
        let found = match first.get(parent.as_str()) {
            Some(&p) => Some((features[p].area.level, "in the file")),
            None => store_levels(parent).map(|l| (l, "in the store")),
        };
        match found {
            None => issues.push(issue(
                IssueKind::MissingParent,
                format!("parent {parent} is neither in the file nor in the store"),
            )),
            Some((got, place)) if got != wanted => issues.push(issue(
                IssueKind::WrongParentLevel,
                format!("parent {parent} ({place}) is a {got}, but a {level} needs a {wanted}"),
            )),
            Some(_) => {}
        }
    }
    issues.extend(cycles(features));
    issues
}

/// Each cycle of parent codes once, reported on the member that comes first in the file.
fn cycles(features: &[ParsedFeature]) -> Vec<FeatureIssue> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let parent = parent_positions(features);
    let mut state = vec![NEW; features.len()];
    let mut issues = Vec::new();
    let mut path = Vec::new();
    for start in 0..features.len() {
        let mut at = Some(start);
        // Every node has one parent, so a walk either ends, meets a finished node, or
        // comes back to a node of its own path: that loop is a new cycle.
        while let Some(n) = at {
            match state[n] {
                NEW => {
                    state[n] = ON_PATH;
                    path.push(n);
                    at = parent[n];
                }
                ON_PATH => {
                    let from = path.iter().position(|&p| p == n).unwrap_or(0);
                    let members = &path[from..];
                    let &head = members
                        .iter()
                        .min_by_key(|&&m| features[m].index)
                        .unwrap_or(&n);
                    let head_at = members.iter().position(|&m| m == head).unwrap_or(0);
                    let chain: Vec<&str> = members[head_at..]
                        .iter()
                        .chain(&members[..head_at])
                        .chain(std::iter::once(&head))
                        .map(|&m| features[m].area.code.as_str())
                        .collect();
                    let f = &features[head];
                    issues.push(FeatureIssue::new(
                        f.index,
                        Some(f.area.code.as_str()),
                        IssueKind::Cycle,
                        format!("parent codes form a cycle: {}", chain.join(" → ")),
                    ));
                    break;
                }
                _ => break,
            }
        }
        for n in path.drain(..) {
            state[n] = DONE;
        }
    }
    issues
}

/// Positions of `features` in an order where every parent in the file comes before its
/// children (stable otherwise).
pub(super) fn parents_first(features: &[ParsedFeature]) -> Vec<usize> {
    let parent = parent_positions(features);
    // Depth below the nearest parent outside the file; a cycle (already an issue) is cut.
    let mut depth: Vec<Option<usize>> = vec![None; features.len()];
    for start in 0..features.len() {
        let mut path = Vec::new();
        let mut at = Some(start);
        let mut base = 0;
        while let Some(n) = at {
            if let Some(d) = depth[n] {
                base = d + 1;
                break;
            }
            if path.contains(&n) || path.len() > AreaLevel::ALL.len() * 2 {
                break;
            }
            path.push(n);
            at = parent[n];
        }
        for (i, &n) in path.iter().rev().enumerate() {
            depth[n] = Some(base + i);
        }
    }
    let mut order: Vec<usize> = (0..features.len()).collect();
    order.sort_by_key(|&i| depth[i].unwrap_or(0));
    order
}
