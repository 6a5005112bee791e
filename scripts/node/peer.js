// The node-resque side of scripts/interop-node.sh: node-resque (installed by that script,
// never committed) enqueueing, delaying, working and scheduling on the same Redis as ours.
// Usage: node peer.js MODE ARGS... with REDIS_PORT set (namespace "resque", as Ruby's).
//   enqueue QUEUE CLASS ARGS_JSON [COUNT]   enqueue COUNT copies (default 1)
//   enqueue-in MS QUEUE CLASS ARGS_JSON     delay one job by MS milliseconds
//   enqueue-at UNIX_MS QUEUE CLASS ARGS_JSON
//   work QUEUE                               run a worker until QUEUE is empty and idle; each
//                                            Archive job appends JSON.stringify(args) to the
//                                            list resque:node:ran, FailJob throws
//   idle-worker QUEUE SECONDS                a worker that stays registered for SECONDS
//   scheduler SECONDS                        run node-resque's scheduler for SECONDS
//   del-delayed QUEUE CLASS ARGS_JSON        node's delDelayed; prints the timestamps removed
//   workers                                  node's view of the workers, as JSON
"use strict";
const { Queue, Worker, Scheduler } = require("node-resque");

const connection = {
  host: "127.0.0.1",
  port: Number(process.env.REDIS_PORT),
  namespace: "resque",
};

const jobs = {
  Archive: {
    perform: async (...args) => {
      await queue.connection.redis.rpush("resque:node:ran", JSON.stringify(args));
      return true;
    },
  },
  FailJob: {
    perform: async (...args) => {
      throw new Error(`FailJob failed: ${JSON.stringify(args)}`);
    },
  },
};

const queue = new Queue({ connection }, jobs);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function work(q) {
  const worker = new Worker({ connection, queues: [q], timeout: 50 }, jobs);
  await worker.connect();
  let failures = 0;
  worker.on("failure", () => failures++);
  worker.on("error", (e) => console.error("worker error", e));
  await worker.start();
  // Done when the queue is empty and nothing is running.
  for (;;) {
    await sleep(200);
    if ((await queue.length(q)) === 0 && !worker.working) break;
  }
  await worker.end();
  console.log(JSON.stringify({ failures }));
}

async function main() {
  const [mode, ...a] = process.argv.slice(2);
  await queue.connect();
  switch (mode) {
    case "enqueue": {
      const n = Number(a[3] || 1);
      for (let i = 0; i < n; i++) await queue.enqueue(a[0], a[1], JSON.parse(a[2]));
      break;
    }
    case "enqueue-in":
      await queue.enqueueIn(Number(a[0]), a[1], a[2], JSON.parse(a[3]));
      break;
    case "enqueue-at":
      await queue.enqueueAt(Number(a[0]), a[1], a[2], JSON.parse(a[3]));
      break;
    case "work":
      await work(a[0]);
      break;
    case "idle-worker": {
      const worker = new Worker({ connection, queues: [a[0]], timeout: 100 }, jobs);
      await worker.connect();
      await worker.start();
      console.log(worker.name);
      await sleep(Number(a[1]) * 1000);
      await worker.end();
      break;
    }
    case "scheduler": {
      const scheduler = new Scheduler({ connection, timeout: 100 });
      await scheduler.connect();
      scheduler.on("error", (e) => console.error("scheduler error", e));
      await scheduler.start();
      await sleep(Number(a[0]) * 1000);
      await scheduler.end();
      break;
    }
    case "del-delayed":
      console.log(JSON.stringify(await queue.delDelayed(a[0], a[1], JSON.parse(a[2]))));
      break;
    case "workers":
      console.log(JSON.stringify(await queue.workers()));
      break;
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  await queue.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
