//! JSON exactly as Ruby Resque 3.0 writes it.
//!
//! Resque encodes with `MultiJson.dump`, which (with the json gem, the backend Rails apps
//! load) writes compact JSON in hash insertion order, raw UTF-8, `\uXXXX` only for control
//! characters, integers of any size as integers and floats with Ruby's `Float#to_s`
//! (`1.0e+20`, `1.0e-07`, `10.0`). `serde_json` already agrees on everything but the
//! numbers, so this module supplies a [`serde_json::ser::Formatter`] that rewrites them.
//!
//! The workspace enables serde_json's `preserve_order` (key order survives a round trip)
//! and `arbitrary_precision` (a number keeps its source text, so `18446744073709551616`
//! stays an integer). Where a payload written by another client uses a number spelling Ruby
//! would normalise (`1e20`, `-0`), re-encoding normalises it the same way Ruby does.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::Formatter;

use crate::{Error, Result};

/// Encodes `value` as Ruby Resque would: compact, key order kept, Ruby number syntax.
///
/// Fails only for types that cannot be JSON (a map with non-string keys, a failing
/// `Serialize` impl).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    // The serializer writes only valid UTF-8 (Rust strings plus ASCII punctuation).
    String::from_utf8(out).map_err(|e| Error::Encode(e.to_string()))
}

/// Encodes `value` into `out` (see [`to_string`]).
pub fn to_writer<W: io::Write, T: Serialize + ?Sized>(out: W, value: &T) -> Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, RubyFormatter);
    value
        .serialize(&mut ser)
        .map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes one JSON document (what Ruby's `Resque.decode` does).
pub fn from_slice(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::Decode {
        message: e.to_string(),
    })
}

/// A compact [`Formatter`] that writes numbers the way Ruby's json gem does.
#[derive(Debug, Clone, Copy, Default)]
pub struct RubyFormatter;

impl Formatter for RubyFormatter {
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        // Ruby has only doubles; an f32 is widened first, as it would be by any Ruby caller.
        writer.write_all(ruby_float(f64::from(value)).as_bytes())
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(ruby_float(value).as_bytes())
    }

    fn write_number_str<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        writer.write_all(normalize_number(value).as_bytes())
    }
}

/// Rewrites the source text of a JSON number as Ruby would after decoding and re-encoding it.
///
/// Integers keep their digits (Ruby integers are unbounded); `-0` becomes `0`. Anything with
/// a fraction or exponent is a Float in Ruby and is written with [`ruby_float`]. A float too
/// large for a double (`1e400`) is kept as written: Ruby would refuse to encode Infinity, and
/// we prefer to lose nothing.
fn normalize_number(text: &str) -> std::borrow::Cow<'_, str> {
    let is_float = text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if !is_float {
        return if text == "-0" {
            "0".into()
        } else {
            text.into()
        };
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => ruby_float(f).into(),
        _ => text.into(),
    }
}

/// Formats a double exactly like Ruby's `Float#to_s`.
///
/// Ruby prints the shortest digits that round-trip, in plain notation when the decimal
/// exponent is in `-4 < decpt <= 15` (`DBL_DIG`) and in exponent notation otherwise, always
/// with at least one digit after the point and a signed exponent of at least two digits:
/// `1.0e+20`, `1.0e-07`, `1.0e+15` (but `999999999999999.9`). Checked against Ruby 3.1
/// (fixture `21_ruby_floats`).
pub fn ruby_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "1.5e0", "-3.3333e-1", "0e0".
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let decpt = exp + 1;

    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if decpt > 0 && decpt <= 15 {
        if decpt < ndigits {
            let (int, frac) = digits.split_at(decpt as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str(&digits);
            for _ in ndigits..decpt {
                out.push('0');
            }
            out.push_str(".0");
        }
    } else if decpt <= 0 && decpt > -4 {
        out.push_str("0.");
        for _ in decpt..0 {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let mag = e.unsigned_abs();
        if mag < 10 {
            out.push('0');
        }
        out.push_str(&mag.to_string());
    }
    out
}

/// Ruby's `inspect` of a decoded JSON value: `[44, "masterbrew"]`, `{"a"=>1}`, `nil`,
/// `1.0e+20`. Job messages that interpolate their arguments (`"failed: #{args.inspect}"`)
/// read the same from a Rust job as from a Ruby one.
pub fn ruby_inspect(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => normalize_number(&n.to_string()).into_owned(),
        Value::String(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('"');
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    // `"#{"`, `"#$"`, `"#@"` would interpolate: Ruby escapes the `#`.
                    '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
                    '#' => out.push('#'),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(ruby_inspect).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => {
            if m.is_empty() {
                return "{}".to_owned();
            }
            let pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}=>{}",
                        ruby_inspect(&Value::String(k.clone())),
                        ruby_inspect(v)
                    )
                })
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_ruby_to_s() {
        // Each pair was checked against `ruby -e 'p x.to_s'` (Ruby 3.1).
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (10.0, "10.0"),
            (100.0, "100.0"),
            (1e20, "1.0e+20"),
            (1e-7, "1.0e-07"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e15, "1.0e+15"),
            (1e14, "100000000000000.0"),
            (999_999_999_999_999.9, "999999999999999.9"),
            (1.7e15, "1.7e+15"),
            (1e16, "1.0e+16"),
            (1.2345e16, "1.2345e+16"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1.0e-05"),
            (-2.5e-10, "-2.5e-10"),
            (1e100, "1.0e+100"),
            (5e-324, "5.0e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            (-7.25, "-7.25"),
            (9007199254740993.0, "9.007199254740992e+15"),
        ];
        for (v, want) in cases {
            assert_eq!(ruby_float(*v), *want, "for {v:e}");
        }
    }

    #[test]
    fn number_text_is_normalised_like_a_ruby_round_trip() {
        let v: Value =
            serde_json::from_str(r#"[1e20,-0,0,-0.0,1E2,2.50,18446744073709551616,1e400]"#)
                .expect("valid json");
        assert_eq!(
            to_string(&v).expect("encodes"),
            "[1.0e+20,0,0,-0.0,100.0,2.5,18446744073709551616,1e+400]"
        );
    }

    #[test]
    fn strings_are_escaped_like_the_json_gem() {
        let v = serde_json::json!([
            "</script> & 'q' \"dq\" \\ back",
            "nul\u{0} tab\t nl\n del\u{7f}",
            "\u{2028}\u{2029}",
            "café ☃ 😀"
        ]);
        assert_eq!(
            to_string(&v).expect("encodes"),
            "[\"</script> & 'q' \\\"dq\\\" \\\\ back\",\"nul\\u0000 tab\\t nl\\n del\u{7f}\",\"\u{2028}\u{2029}\",\"café ☃ 😀\"]"
        );
    }

    #[test]
    fn inspect_like_ruby() {
        let v = serde_json::json!([44, "masterbrew", null, 1.5, {"a": [true]}, "q\"x"]);
        assert_eq!(
            ruby_inspect(&v),
            r#"[44, "masterbrew", nil, 1.5, {"a"=>[true]}, "q\"x"]"#
        );
        assert_eq!(ruby_inspect(&serde_json::json!(["x"])), r#"["x"]"#);
        // Checked with `ruby -e 'p "a#{1}"'`-style literals: only #{, #$ and #@ are escaped.
        assert_eq!(
            ruby_inspect(&serde_json::json!("#{x} #$y #@z #a #")),
            r#""\#{x} \#$y \#@z #a #""#
        );
    }

    #[test]
    fn typed_floats_use_ruby_syntax() {
        #[derive(Serialize)]
        struct Args(f64, f32, u64, i64);
        assert_eq!(
            to_string(&Args(1e20, 0.5, u64::MAX, -7)).expect("encodes"),
            "[1.0e+20,0.5,18446744073709551615,-7]"
        );
    }
}
