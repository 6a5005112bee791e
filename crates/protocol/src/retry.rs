//! resque-retry 1.8's formats: the retry counter's key (its identifier is the SHA1 of Ruby's
//! `args.join('-')`), and the suppressed failure record (`failure-<retry key>`).
//!
//! `Array#join('-')` in Ruby: each element's `to_s`, nested arrays joined the same way
//! (flattened), `nil` as empty, floats as `Float#to_s`, and a hash as `Hash#inspect`, whose
//! form changed in Ruby 3.4 (`{"k"=>1}` before, `{"k" => 1}` since): [`HashStyle`] picks one.
//! The identifier is `None` when the joined text is empty (`[]`, `[nil]`, `[""]`), and the key
//! is then `resque-retry:<Class>`. Whitespace is removed from the whole key (fixture 18).
//!
//! The suppressed failure record (`failure-resque-retry:...`, kept while a retry is
//! pending) is an ordinary [`crate::Failure`] whose `failed_at` has no zone
//! ([`crate::time::retried_at_without_zone`]'s format) and whose backtrace is whole.

use serde_json::{Map, Value};

use crate::json;

/// How a hash argument is written in the identifier, as the Ruby version that shares the
/// counters writes `Hash#inspect`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashStyle {
    /// Ruby 3.3 and older: `{"k"=>1}` (the default: Debian 12's Ruby is 3.1).
    #[default]
    Ruby33,
    /// Ruby 3.4 and newer: `{"k" => 1}`.
    Ruby34,
}

/// Ruby's `args.join('-')` of JSON-decoded arguments.
pub fn joined(args: &[Value], style: HashStyle) -> String {
    let mut out = String::new();
    join_into(&mut out, args, style);
    out
}

fn join_into(out: &mut String, items: &[Value], style: HashStyle) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        match v {
            Value::Array(inner) => join_into(out, inner, style),
            Value::Null => {}
            Value::String(s) => out.push_str(s),
            Value::Object(m) => out.push_str(&hash_inspect(m, style)),
            other => out.push_str(&json::ruby_inspect(other)),
        }
    }
}

fn inspect(v: &Value, style: HashStyle) -> String {
    match v {
        Value::Object(m) => hash_inspect(m, style),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| inspect(x, style))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => json::ruby_inspect(other),
    }
}

fn hash_inspect(m: &Map<String, Value>, style: HashStyle) -> String {
    if m.is_empty() {
        return "{}".to_owned();
    }
    let arrow = match style {
        HashStyle::Ruby33 => "=>",
        HashStyle::Ruby34 => " => ",
    };
    let pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            format!(
                "{}{arrow}{}",
                json::ruby_inspect(&Value::String(k.clone())),
                inspect(v, style)
            )
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// resque-retry's default `retry_identifier(*args)`: the SHA1 (lowercase hex) of
/// [`joined`], or `None` when that is empty.
///
/// ```
/// use resque_protocol::retry::{HashStyle, identifier};
/// let args = [44.into(), "masterbrew".into()];
/// assert_eq!(
///     identifier(&args, HashStyle::Ruby33).as_deref(),
///     Some("1315dd4143fb7d7abe77328729da673b8bfa3313")
/// );
/// assert_eq!(identifier(&[serde_json::Value::Null], HashStyle::Ruby33), None);
/// ```
pub fn identifier(args: &[Value], style: HashStyle) -> Option<String> {
    let text = joined(args, style);
    if text.is_empty() {
        return None;
    }
    Some(sha1_smol::Sha1::from(text.as_bytes()).digest().to_string())
}

/// The counter's key without the namespace: `resque-retry:<Class>[:<identifier>]`, every
/// whitespace character removed (as Ruby's `gsub(/\s/, '')`).
pub fn key_name(class: &str, identifier: Option<&str>) -> String {
    let raw = match identifier {
        Some(id) => format!("resque-retry:{class}:{id}"),
        None => format!("resque-retry:{class}"),
    };
    raw.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Vec<Value> {
        match json::from_slice(text.as_bytes()) {
            Ok(Value::Array(a)) => a,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn joins_like_ruby() {
        assert_eq!(
            joined(&v(r#"[1,[2,[3,"x"]]]"#), HashStyle::Ruby33),
            "1-2-3-x"
        );
        assert_eq!(
            joined(&v(r#"[1.0,true,null,2]"#), HashStyle::Ruby33),
            "1.0-true--2"
        );
        assert_eq!(joined(&v(r#"[{"k":1}]"#), HashStyle::Ruby33), r#"{"k"=>1}"#);
        assert_eq!(
            joined(&v(r#"[{"k":1}]"#), HashStyle::Ruby34),
            r#"{"k" => 1}"#
        );
        assert_eq!(
            joined(
                &v(r#"[{"a":[1,2.0,{"b":null}],"é":"x\n"}]"#),
                HashStyle::Ruby33
            ),
            r#"{"a"=>[1, 2.0, {"b"=>nil}], "é"=>"x\n"}"#
        );
        assert_eq!(
            joined(&v(r#"[1e20,-0.0,18446744073709551616]"#), HashStyle::Ruby33),
            "1.0e+20--0.0-18446744073709551616"
        );
        assert_eq!(
            key_name("Foo::Bar Job", Some("account 7")),
            "resque-retry:Foo::BarJob:account7"
        );
        assert_eq!(key_name("RetryOkJob", None), "resque-retry:RetryOkJob");
    }
}
