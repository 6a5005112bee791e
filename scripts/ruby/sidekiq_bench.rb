# frozen_string_literal: false
# Sidekiq 6.4 (Debian ruby-sidekiq) for the benchmarks, in this process, no toxiproxy or
# bundler (REDIS_URL may point at resque-rs's delay proxy); only Sidekiq's own keys in the
# private server are touched (no FLUSHDB).
#
#   load:   Sidekiq's own load shape (bin/sidekiqload): push JOBS no-op jobs in bulk, start
#           CONCURRENCY threads, time the drain (queue empty and no job running). Prints
#           {"jobs":N,"concurrency":C,"elapsed_s":..,"jobs_per_s":..}.
#   pickup: an idle Sidekiq (CONCURRENCY, default 10), JOBS jobs enqueued one by one, each
#           noting how long after its enqueue it started. Prints p50/p99 as one line.
#
#   REDIS_URL=redis://127.0.0.1:PORT/0 JOBS=100000 CONCURRENCY=30 ruby scripts/ruby/sidekiq_bench.rb load
require 'json'
require 'redis'
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)
require 'sidekiq'
# As sidekiqload: with the CLI loaded, Sidekiq configures itself as a server.
require 'sidekiq/cli'
require 'sidekiq/launcher'

mode = ARGV.fetch(0) { abort 'usage: sidekiq_bench.rb load|pickup' }
url = ENV.fetch('REDIS_URL') { abort 'REDIS_URL must be set (never a default server)' }
jobs = Integer(ENV.fetch('JOBS', '1000'))
concurrency = Integer(ENV.fetch('CONCURRENCY', '10'))
# Concurrency first: setting the pool checks its size against it.
Sidekiq.options[:concurrency] = concurrency
Sidekiq.redis = { url: url, size: concurrency + 5 }
Sidekiq.options[:queues] = ['default']
Sidekiq.logger.level = Logger::ERROR

STARTED = Queue.new
class BenchWorker
  include Sidekiq::Worker
  sidekiq_options retry: false

  # `enqueued_ns` is the enqueuer's clock (pickup mode); the load's jobs pass an index.
  def perform(enqueued_ns, pickup = false)
    STARTED << (Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond) - enqueued_ns) if pickup
  end
end

now = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }
launcher = Sidekiq::Launcher.new(Sidekiq.options)
case mode
when 'load'
  Sidekiq.redis { |c| c.del('queue:default') }
  jobs.times.each_slice(10_000) do |slice|
    Sidekiq::Client.push_bulk('class' => BenchWorker, 'args' => slice.map { |i| [i] })
  end
  start = now.call
  launcher.run
  sleep 0.02 until Sidekiq.redis { |c| c.llen('queue:default') }.zero?
  # The last jobs taken may still be running.
  sleep 0.005 until Sidekiq::Workers.new.size.zero?
  elapsed = now.call - start
  puts JSON.generate('jobs' => jobs, 'concurrency' => concurrency,
                     'elapsed_s' => elapsed.round(3), 'jobs_per_s' => (jobs / elapsed).round)
when 'pickup'
  launcher.run
  sleep 1
  ms = Array.new(jobs) do
    BenchWorker.perform_async(Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond), true)
    started = STARTED.pop / 1e6
    sleep(rand * 0.02)
    started
  end.sort
  q = ->(p) { ms[[ms.size - 1, (p * ms.size).to_i].min] }
  puts format('%d jobs: p50 %.2f ms, p99 %.2f ms, max %.2f ms', ms.size, q.call(0.5), q.call(0.99), ms.last)
else
  abort "unknown mode #{mode}: load or pickup"
end
launcher.stop
exit!(0)
