//! A job's `Args` type and the JSON array in a payload's `"args"`: which Rust shapes map to
//! which arrays, the same way both ways, and as Ruby writes them.
//!
//! | `Args` | `Resque.enqueue(Job, ...)` in Ruby | `"args"` |
//! |---|---|---|
//! | `()`, a unit struct | `Resque.enqueue(Job)` | `[]` |
//! | a tuple `(u64, String)`, a tuple struct, `Vec<T>`, `[T; N]` | `Resque.enqueue(Job, 44, "x")` | `[44,"x"]` |
//! | a struct, a map, an enum | `Resque.enqueue(Job, {a: 1})` | `[{"a":1}]` |
//! | a number, string or bool | `Resque.enqueue(Job, 5)` | `[5]` |
//! | `Option<T>` | `None` is no argument, `Some(t)` is `t`'s shape | `[]` or as `T` |
//! | `serde_json::Value`, an untagged enum | the whole array | as it is |
//!
//! The shape comes from the type, not the value: it is what the type's `Deserialize` asks
//! for first, found once by `shape_of`. So a struct is always one hash argument, even one
//! whose fields happen to look like a list, and reading back takes the same path.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;

use super::{Job, JobError};
use crate::{Error, Result};

/// How an `Args` type sits in the payload's `"args"` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// No arguments: `()` and unit structs.
    Empty,
    /// The array itself: tuples, tuple structs, sequences.
    List,
    /// One argument: structs, maps, enums, scalars.
    One,
    /// Decided by the value: `serde_json::Value` and untagged enums.
    Any,
}

/// An `Args` type's shape, and whether it is an `Option` (whose `None` is `[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArgsShape {
    pub(crate) shape: Shape,
    pub(crate) optional: bool,
}

/// Finds `T`'s shape by letting its `Deserialize` ask a deserializer that holds nothing:
/// the first thing it asks for (a struct, a sequence, a string...) is the shape. An
/// `Option` or a newtype is looked through.
pub(crate) fn shape_of<T: DeserializeOwned>() -> ArgsShape {
    let mut probe = Probe {
        shape: Shape::Any,
        optional: false,
    };
    // The probe always answers with an error; what matters is what it noted.
    let _ = T::deserialize(&mut probe);
    ArgsShape {
        shape: probe.shape,
        optional: probe.optional,
    }
}

/// Serializes job args to the JSON array that goes in `"args"` (see the module docs).
pub fn args_to_json<J: Job>(args: &J::Args) -> Result<Vec<Value>> {
    let value = to_value::<J>(args)?;
    let ArgsShape { shape, .. } = shape_of::<J::Args>();
    match (shape, value) {
        // `()`, `None`: no arguments.
        (_, Value::Null) => Ok(Vec::new()),
        (Shape::List | Shape::Any, Value::Array(a)) => Ok(a),
        (Shape::One | Shape::Any | Shape::Empty, v) => Ok(vec![v]),
        (Shape::List, other) => Err(Error::ArgsNotArray {
            class: J::CLASS.to_owned(),
            found: other.to_string().chars().take(80).collect(),
        }),
    }
}

/// Serializes, refusing what JSON cannot hold: serde_json writes a NaN or an infinity as
/// `null`, which would enqueue a different job than the one asked for (Ruby's JSON raises
/// `GeneratorError` for them).
fn to_value<J: Job>(args: &J::Args) -> Result<Value> {
    if !super::finite::all_finite(args) {
        return Err(Error::from(resque_protocol::Error::Encode(format!(
            "arguments of job {} hold a NaN or an infinite number, which JSON cannot represent",
            J::CLASS
        ))));
    }
    serde_json::to_value(args)
        .map_err(|e| Error::from(resque_protocol::Error::Encode(e.to_string())))
}

/// Reads job args back from the JSON array in `"args"`, the inverse of [`args_to_json`].
/// A mismatch is Ruby's `ArgumentError`, naming the class and what did not fit.
pub fn args_from_json<J: Job>(args: &[Value]) -> std::result::Result<J::Args, JobError> {
    let ArgsShape { shape, optional } = shape_of::<J::Args>();
    let whole = || Value::Array(args.to_vec());
    let arity = |expected: &str| {
        JobError::new(
            "ArgumentError",
            format!(
                "wrong number of arguments for {} (given {}, expected {expected})",
                J::CLASS,
                args.len()
            ),
        )
    };
    let from = |v: Value| {
        serde_json::from_value::<J::Args>(v).map_err(|e| {
            JobError::new(
                "ArgumentError",
                format!("arguments {} do not fit {}: {e}", whole(), J::CLASS),
            )
        })
    };
    if args.is_empty() && (optional || shape == Shape::Empty) {
        return from(Value::Null);
    }
    match shape {
        Shape::Empty => Err(arity("0")),
        Shape::List => from(whole()),
        Shape::One => match args {
            [one] => from(one.clone()),
            _ => Err(arity("1")),
        },
        Shape::Any => match (from(whole()), args) {
            (Ok(a), _) => Ok(a),
            (Err(_), [one]) => from(one.clone()),
            (Err(e), _) => Err(e),
        },
    }
}

/// The payload for a typed job.
pub fn payload_for<J: Job>(args: &J::Args) -> Result<resque_protocol::Payload> {
    Ok(resque_protocol::Payload::new(
        J::CLASS,
        args_to_json::<J>(args)?,
    ))
}

/// The deserializer behind [`shape_of`]: notes what it is asked for and refuses it.
struct Probe {
    shape: Shape,
    optional: bool,
}

#[derive(Debug)]
struct Noted;

impl fmt::Display for Noted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape noted")
    }
}
impl std::error::Error for Noted {}
impl de::Error for Noted {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Noted
    }
}

/// Each `deserialize_*` that means one shape notes it and stops.
macro_rules! noting {
    ($shape:ident: $($method:ident $(($($arg:ty),*))?),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($(_: $arg,)*)? _: V) -> std::result::Result<V::Value, Noted> {
            self.shape = Shape::$shape;
            Err(Noted)
        }
    )*};
}

impl<'de> Deserializer<'de> for &mut Probe {
    type Error = Noted;

    noting!(Any: deserialize_any, deserialize_ignored_any);
    noting!(Empty: deserialize_unit, deserialize_unit_struct(&'static str));
    noting!(List:
        deserialize_seq,
        deserialize_tuple(usize),
        deserialize_tuple_struct(&'static str, usize),
    );
    noting!(One:
        deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64,
        deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64,
        deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char, deserialize_str,
        deserialize_string, deserialize_bytes, deserialize_byte_buf, deserialize_map,
        deserialize_identifier,
        deserialize_struct(&'static str, &'static [&'static str]),
        deserialize_enum(&'static str, &'static [&'static str]),
    );

    fn deserialize_option<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Noted> {
        self.optional = true;
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, Noted> {
        visitor.visit_newtype_struct(self)
    }
}

// `Deserialize` is used through `T::deserialize` above.
#[allow(unused_imports)]
use Deserialize as _;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;
    use crate::job::{Context, Job};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Signup {
        user_id: u64,
        plan: String,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair(u32, String);
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Id(u64);
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ping;
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Mode {
        Fast,
        Slow { by: u32 },
    }

    fn shape<T: DeserializeOwned>() -> (Shape, bool) {
        let s = shape_of::<T>();
        (s.shape, s.optional)
    }

    #[test]
    fn shapes_come_from_the_type() {
        use Shape::*;
        assert_eq!(shape::<()>(), (Empty, false));
        assert_eq!(shape::<Ping>(), (Empty, false));
        assert_eq!(shape::<(u64, String)>(), (List, false));
        assert_eq!(shape::<(u64,)>(), (List, false));
        assert_eq!(shape::<Pair>(), (List, false));
        assert_eq!(shape::<Vec<u8>>(), (List, false));
        assert_eq!(shape::<[u8; 3]>(), (List, false));
        assert_eq!(shape::<Signup>(), (One, false));
        assert_eq!(shape::<BTreeMap<String, u8>>(), (One, false));
        assert_eq!(shape::<HashMap<String, u8>>(), (One, false));
        assert_eq!(shape::<Mode>(), (One, false));
        assert_eq!(shape::<u64>(), (One, false));
        assert_eq!(shape::<String>(), (One, false));
        assert_eq!(shape::<Id>(), (One, false), "a newtype is its inner type");
        assert_eq!(shape::<Option<Signup>>(), (One, true));
        assert_eq!(shape::<Option<(u8, u8)>>(), (List, true));
        assert_eq!(shape::<Value>(), (Any, false));
        assert_eq!(shape::<Box<Signup>>(), (One, false));
    }

    /// A job per `Args` type, for the encode and decode functions.
    struct Shaped<T>(std::marker::PhantomData<T>);
    impl<T: Serialize + DeserializeOwned + Send + 'static> Job for Shaped<T> {
        const CLASS: &'static str = "Shaped";
        const QUEUE: &'static str = "q";
        type Args = T;
        fn perform(_: &T, _: &mut Context) -> std::result::Result<(), JobError> {
            Ok(())
        }
    }

    fn round_trip<T>(args: T, want: Value)
    where
        T: Serialize + DeserializeOwned + Send + PartialEq + fmt::Debug + 'static,
    {
        let got = args_to_json::<Shaped<T>>(&args).expect("encodes");
        assert_eq!(Value::Array(got.clone()), want, "{args:?}");
        let back = args_from_json::<Shaped<T>>(&got).expect("decodes");
        assert_eq!(back, args);
    }

    #[test]
    fn every_shape_round_trips() {
        round_trip((), json!([]));
        round_trip(Ping, json!([]));
        round_trip((44u64, "masterbrew".to_owned()), json!([44, "masterbrew"]));
        round_trip((7u8,), json!([7]));
        round_trip(Pair(1, "a".into()), json!([1, "a"]));
        round_trip(vec![1, 2, 3], json!([1, 2, 3]));
        round_trip(vec![vec![1]], json!([[1]]));
        round_trip(
            Signup {
                user_id: 5,
                plan: "pro".into(),
            },
            json!([{"user_id": 5, "plan": "pro"}]),
        );
        round_trip(
            BTreeMap::from([("b".to_owned(), 1), ("a".to_owned(), 2)]),
            json!([{"a": 2, "b": 1}]),
        );
        round_trip(Mode::Fast, json!(["Fast"]));
        round_trip(Mode::Slow { by: 3 }, json!([{"Slow": {"by": 3}}]));
        round_trip(5u64, json!([5]));
        round_trip("x".to_owned(), json!(["x"]));
        round_trip(Id(9), json!([9]));
        round_trip(None::<Signup>, json!([]));
        round_trip(
            Some(Signup {
                user_id: 1,
                plan: String::new(),
            }),
            json!([{"user_id": 1, "plan": ""}]),
        );
        round_trip(json!([1, {"a": null}]), json!([1, {"a": null}]));
    }

    #[test]
    fn wrong_arity_and_types_are_argument_errors() {
        let e = args_from_json::<Shaped<Signup>>(&[json!(1), json!(2)]).expect_err("two");
        assert_eq!(e.exception(), "ArgumentError");
        assert_eq!(
            e.message(),
            "wrong number of arguments for Shaped (given 2, expected 1)"
        );
        let e = args_from_json::<Shaped<()>>(&[json!(1)]).expect_err("one");
        assert_eq!(
            e.message(),
            "wrong number of arguments for Shaped (given 1, expected 0)"
        );
        let e = args_from_json::<Shaped<Signup>>(&[json!({"user_id": "x"})]).expect_err("type");
        assert!(
            e.message()
                .starts_with("arguments [{\"user_id\":\"x\"}] do not fit Shaped")
        );
        assert!(args_from_json::<Shaped<(u8, u8)>>(&[json!(1)]).is_err());
    }

    #[test]
    fn non_finite_numbers_are_refused_at_enqueue() {
        let e = args_to_json::<Shaped<(f64,)>>(&(f64::NAN,)).expect_err("NaN");
        assert_eq!(
            e.to_string(),
            "cannot encode as JSON: arguments of job Shaped hold a NaN or an infinite number, which JSON cannot represent"
        );
        args_to_json::<Shaped<(f64,)>>(&(1.5,)).expect("finite");
    }
}
