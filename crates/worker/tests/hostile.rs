//! Property tests: queue lists and glob patterns of any text parse or give Ruby's error,
//! resolve against any queue names without a panic, and the worker's command line takes
//! any values with a one-line error.

use clap::Parser as _;
use proptest::prelude::*;
use resque_worker::{Args, Config, QueueSpec, queues::fnmatch};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn queue_list() -> impl Strategy<Value = String> {
    prop_oneof![".*", "[a-z*?!,\\[\\]{}\\\\ ]{0,30}"]
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn queue_lists_parse_and_resolve_without_a_panic(
        list in queue_list(),
        known in prop::collection::vec("[a-z*?!\\[\\]_-]{0,8}", 0..8),
    ) {
        if let Ok(spec) = QueueSpec::parse(&list) {
            let resolved = spec.resolve(&known);
            if spec.is_dynamic() {
                // A glob or skip list is matched against the queues, each once (Ruby's
                // `glob_match ... .flatten.uniq`).
                let mut seen = std::collections::HashSet::new();
                prop_assert!(resolved.iter().all(|q| seen.insert(q.clone())), "{:?}", resolved);
            } else {
                // A plain list is worked as given, a name listed twice included (Ruby 3.0's
                // `queues` returns `@queues` itself).
                prop_assert_eq!(&resolved[..], spec.configured());
            }
        }
    }

    #[test]
    fn glob_patterns_never_panic(pattern in "[a-z*?\\[\\]!{},\\\\^-]{0,16}", name in "[a-z\\[\\]*?-]{0,12}") {
        let _ = fnmatch(&pattern, &name);
    }

    #[test]
    fn settings_of_any_text_are_taken_or_refused_in_one_line(
        interval in ".{0,12}",
        count in ".{0,6}",
        fork in ".{0,6}",
        heartbeat in ".{0,8}",
        recoveries in ".{0,6}",
    ) {
        let argv = [
            "resque-worker", "-q", "a",
            "--interval", interval.as_str(),
            "--count", count.as_str(),
            "--fork-per-job", fork.as_str(),
            "--heartbeat-interval", heartbeat.as_str(),
            "--max-recoveries", recoveries.as_str(),
        ];
        if let Ok(args) = Args::try_parse_from(argv)
            && let Err(e) = Config::try_from(args)
        {
            prop_assert!(!e.to_string().contains('\n'), "{}", e);
        }
    }
}
