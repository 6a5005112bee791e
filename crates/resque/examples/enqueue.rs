//! Enqueues the demo's example jobs with the library: typed jobs with hooks, jobs for any
//! language, and a batch in one round trip.
//!
//! `cargo run -p resque --example enqueue -- [REDIS] [N]`

use resque::prelude::*;

/// The README's job: `Resque.enqueue(Archive, 44, 'masterbrew')`.
struct Archive;

impl Job for Archive {
    const CLASS: &'static str = "Archive";
    const QUEUE: &'static str = "file_serve";
    type Args = (u64, String);
    fn perform((id, branch): &Self::Args, _ctx: &mut Context) -> Result<(), JobError> {
        println!("archiving repository {id} at {branch}");
        Ok(())
    }
    fn after_enqueue((id, _): &Self::Args) {
        println!("enqueued Archive({id})");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let redis = argv.next().unwrap_or_else(|| "localhost:6379".to_owned());
    let n: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let client = resque::blocking::Client::connect(&redis)?;
    client.enqueue::<Archive>((44, "masterbrew".into()))?;
    client.enqueue_to("file_serve", "Archive", vec![45.into(), "other".into()])?;
    let batch = (0..n).map(|i| {
        let (queue, class) = match i % 4 {
            0 => ("critical", "NoopJob"),
            1 => ("default", "SleepJob"),
            2 => ("default", "FailJob"),
            _ => ("low", "UnicodeFailJob"),
        };
        let args = if class == "SleepJob" {
            vec![0.2.into()]
        } else {
            vec![i.into()]
        };
        (queue, class, args)
    });
    let pushed = client.enqueue_batch(batch)?;
    println!("enqueued {pushed} more jobs in one round trip");
    for (queue, size) in client.queue_sizes()? {
        println!("{queue:<12} {size}");
    }
    Ok(())
}
