//! Which queues a worker polls, and in what order: Ruby's `Worker#queues=` / `#queues`.
//!
//! `QUEUES=a,b,c` is an ordered priority list. `*` is every known queue (alphabetical,
//! re-read before every reservation), globs use `File.fnmatch?` rules, and `!pattern`
//! excludes. As in Ruby, once the list is dynamic (any of `*?{}[]`, or any `!`), every entry,
//! literal ones included, is matched against the `queues` set, so `critical,*` polls
//! `critical` first only if it is a known queue.

use std::fmt;

/// Characters that make a queue list dynamic (Ruby's `Worker::WILDCARDS`).
const WILDCARDS: [char; 6] = ['*', '?', '{', '}', '[', ']'];

/// The parsed `QUEUE` / `QUEUES` value. The default has no queues (a worker refuses it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueSpec {
    patterns: Vec<String>,
    skips: Vec<String>,
    dynamic: bool,
}

/// Ruby's `NoQueueError` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoQueues;

impl fmt::Display for NoQueues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Please give each worker at least one queue.")
    }
}

impl std::error::Error for NoQueues {}

impl QueueSpec {
    /// Parses a comma list (`critical,high`, `*`, `*,!low`, `file_*`).
    pub fn parse(list: &str) -> Result<Self, NoQueues> {
        let entries: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .collect();
        let (skips, patterns): (Vec<&str>, Vec<&str>) =
            entries.into_iter().partition(|q| q.starts_with('!'));
        let skips: Vec<String> = skips.iter().map(|s| s[1..].to_owned()).collect();
        let patterns: Vec<String> = patterns.into_iter().map(str::to_owned).collect();
        if patterns.is_empty() {
            return Err(NoQueues);
        }
        let dynamic = !skips.is_empty() || patterns.iter().any(|p| p.contains(WILDCARDS));
        Ok(Self {
            patterns,
            skips,
            dynamic,
        })
    }

    /// The queue entries as configured, skips left out: the worker id's last part.
    pub fn configured(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the queues must be re-read from Redis before every reservation.
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// The queues to poll, in order, given the known queue names (`SMEMBERS queues`; only
    /// consulted when the list is dynamic).
    pub fn resolve(&self, known: &[String]) -> Vec<String> {
        if !self.dynamic {
            return self.patterns.clone();
        }
        let mut out: Vec<String> = Vec::new();
        for pattern in &self.patterns {
            let mut matched: Vec<&String> = known
                .iter()
                .filter(|q| fnmatch(pattern, q) && !self.skips.iter().any(|s| fnmatch(s, q)))
                .collect();
            matched.sort();
            for q in matched {
                if !out.contains(q) {
                    out.push(q.clone());
                }
            }
        }
        out
    }
}

/// `File.fnmatch?(pattern, name)` with no flags: `*` and `?` match any character
/// (including `/`) but not a leading `.`; `[...]` classes with ranges and `!`/`^`
/// negation; `\` escapes; braces are literal.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_at(&p, &n, 0, 0)
}

fn matches_at(p: &[char], n: &[char], mut pi: usize, mut ni: usize) -> bool {
    // Iterative with one backtrack point for the last `*`, like most fnmatch
    // implementations.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            let leading_dot = ni == 0 && n.first() == Some(&'.');
            match p[pi] {
                '*' if !leading_dot => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() && !leading_dot => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() && !leading_dot => {
                    if let Some((ok, next)) = class(p, pi, n[ni]) {
                        if ok {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unclosed `[` is literal.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && ni < n.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '*'
                    && c != '?'
                    && c != '['
                    && c != '\\'
                    && ni < n.len()
                    && c == n[ni] =>
                {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return true;
        }
        // Mismatch: let the last `*` swallow one more character.
        match star {
            Some((sp, sn)) if sn < n.len() => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class starting at `p[start] == '['`. Returns whether it
/// matched and the index after `]`, or `None` if the class is not closed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if p[i] == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            p[i]
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fnmatch_like_ruby() {
        // Each expectation was checked with Ruby's File.fnmatch? (no flags).
        let cases = [
            ("*", "abc", true),
            ("*", ".hidden", false),
            ("*", "a/b", true),
            ("file_*", "file_serve", true),
            ("file_*", "files", false),
            ("?ow", "low", true),
            ("?ow", "slow", false),
            ("[lh]igh", "high", true),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("{a,b}", "a", false),
            ("{a,b}", "{a,b}", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*_failed", "low_failed", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("[", "[", true),
            ("", "", true),
            ("a", "", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(fnmatch(p, n), want, "fnmatch({p:?}, {n:?})");
        }
    }

    #[test]
    fn static_lists_keep_their_order() -> Result<(), NoQueues> {
        let s = QueueSpec::parse("critical, high ,low")?;
        assert!(!s.is_dynamic());
        assert_eq!(s.resolve(&[]), ["critical", "high", "low"]);
        assert_eq!(s.configured(), ["critical", "high", "low"]);
        Ok(())
    }

    #[test]
    fn wildcards_globs_and_negation() -> Result<(), NoQueues> {
        let k = known(&["low", "critical", "file_a", "file_b", "high", ".x"]);
        assert_eq!(
            QueueSpec::parse("*")?.resolve(&k),
            ["critical", "file_a", "file_b", "high", "low"]
        );
        assert_eq!(
            QueueSpec::parse("critical,*")?.resolve(&k),
            ["critical", "file_a", "file_b", "high", "low"]
        );
        assert_eq!(QueueSpec::parse("high,*")?.resolve(&k)[0], "high");
        assert_eq!(
            QueueSpec::parse("*,!low")?.resolve(&k),
            ["critical", "file_a", "file_b", "high"]
        );
        assert_eq!(
            QueueSpec::parse("!low,*")?.resolve(&k),
            ["critical", "file_a", "file_b", "high"]
        );
        assert_eq!(
            QueueSpec::parse("*,!file_*")?.resolve(&k),
            ["critical", "high", "low"]
        );
        assert_eq!(
            QueueSpec::parse("file_*")?.resolve(&k),
            ["file_a", "file_b"]
        );
        // Dynamic lists only poll known queues, literal entries included (as Ruby).
        assert_eq!(QueueSpec::parse("nope,*")?.resolve(&k)[0], "critical");
        let s = QueueSpec::parse("a,!b")?;
        assert!(s.is_dynamic());
        assert_eq!(s.configured(), ["a"]);
        Ok(())
    }

    #[test]
    fn no_queue_is_ruby_error() {
        assert_eq!(
            QueueSpec::parse("").expect_err("empty").to_string(),
            "Please give each worker at least one queue."
        );
        assert!(QueueSpec::parse(" , ").is_err());
        assert!(QueueSpec::parse("!low").is_err());
    }
}
