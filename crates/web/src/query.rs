//! Typed query strings: [`Q`] reads one into a struct with serde, and a query that does
//! not fit is the 400 error page. Numbers read as Ruby's `params[:start].to_i` would for
//! the values it gets: anything that is not a whole number is 0.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use resque_failure::{Filter, Order};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::Error;

/// A query string read as `T`.
#[derive(Debug)]
pub(crate) struct Q<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(t)| Q(t))
            .map_err(|e| Error::BadRequest(e.body_text()))
    }
}

/// `?start=N`, where a page of a list begins.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Paging {
    /// The first index shown.
    #[serde(deserialize_with = "to_u64")]
    pub(crate) start: u64,
}

/// `?start=N&count=M`: a window of a list, for the JSON API.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Window {
    /// The first index returned.
    #[serde(deserialize_with = "to_u64")]
    pub(crate) start: u64,
    /// How many (default a page, at most `API_MAX`).
    #[serde(deserialize_with = "to_opt_u64")]
    pub(crate) count: Option<u64>,
}

/// The failure pages' and the failure API's query: paging, order and the search fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FailureQuery {
    /// The first record shown.
    #[serde(deserialize_with = "to_u64")]
    pub(crate) start: u64,
    /// Records per page (the API only).
    #[serde(deserialize_with = "to_opt_u64")]
    pub(crate) count: Option<u64>,
    /// `asc` for oldest first.
    order: Option<String>,
    class: Option<String>,
    queue: Option<String>,
    exception: Option<String>,
    /// Text anywhere in the message or the arguments.
    q: Option<String>,
}

impl FailureQuery {
    /// Oldest first?
    pub(crate) fn asc(&self) -> bool {
        self.order.as_deref() == Some("asc")
    }

    /// The order asked for.
    pub(crate) fn order(&self) -> Order {
        if self.asc() { Order::Asc } else { Order::Desc }
    }

    /// The search: blank fields match everything.
    pub(crate) fn filter(&self) -> Filter {
        let get = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Filter {
            class: get(&self.class),
            queue: get(&self.queue),
            exception: get(&self.exception),
            text: get(&self.q),
        }
    }
}

/// The form of a one-record action: the record's tag, and the page to go back to.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RecordForm {
    /// [`crate::views::record_tag`] of the record as the page showed it.
    pub(crate) tag: Option<String>,
    /// The page's `start`.
    #[serde(deserialize_with = "to_u64")]
    pub(crate) start: u64,
}

/// The form of a requeue or remove by search.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MatchForm {
    /// The search.
    #[serde(flatten)]
    pub(crate) search: FailureQuery,
    /// `1`: remove each record once its job is requeued.
    pub(crate) remove: Option<String>,
}

fn to_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(to_opt_u64(d)?.unwrap_or(0))
}

fn to_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.trim().parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: DeserializeOwned>(q: &str) -> Result<T, Error> {
        let uri: axum::http::Uri = format!("/x?{q}").parse().map_err(|_| Error::Csrf)?;
        Query::<T>::try_from_uri(&uri)
            .map(|Query(t)| t)
            .map_err(|e| Error::BadRequest(e.body_text()))
    }

    #[test]
    fn numbers_read_like_to_i_and_blanks_match_everything() -> Result<(), Error> {
        assert_eq!(parse::<Paging>("start=40")?.start, 40);
        assert_eq!(parse::<Paging>("start=-3")?.start, 0);
        assert_eq!(parse::<Paging>("start=%3Cscript%3E")?.start, 0);
        assert_eq!(parse::<Paging>("other=1")?.start, 0);
        let f = parse::<FailureQuery>("class=Archive&q=%20&order=asc&count=x")?;
        assert!(f.asc() && f.count.is_none());
        assert_eq!(f.filter(), Filter::class("Archive"));
        assert!(parse::<FailureQuery>("")?.filter().is_empty());
        Ok(())
    }
}
