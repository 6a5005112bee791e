# frozen_string_literal: false
# Sidekiq 6.4's pickup latency, for scripts/bench-latency.sh: an idle Sidekiq (default 10
# threads) in this process, N jobs enqueued one by one into it, each logging how long after
# its enqueue it started; prints p50/p99 as one line.
#
#   REDIS_URL=redis://127.0.0.1:PORT/0 JOBS=1000 ruby scripts/ruby/sidekiq_pickup.rb
require 'json'
require 'redis'
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)
require 'sidekiq'
require 'sidekiq/cli'
require 'sidekiq/launcher'

url = ENV.fetch('REDIS_URL') { abort 'REDIS_URL must be set (never a default server)' }
jobs = Integer(ENV.fetch('JOBS', '1000'))
Sidekiq.options[:concurrency] = 10
Sidekiq.redis = { url: url, size: 15 }
Sidekiq.options[:queues] = ['default']
Sidekiq.logger.level = Logger::ERROR

LATENCIES = Queue.new
class PickupWorker
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(enqueued_ns)
    LATENCIES << (Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond) - enqueued_ns)
  end
end

launcher = Sidekiq::Launcher.new(Sidekiq.options)
launcher.run
sleep 1
ms = []
jobs.times do
  PickupWorker.perform_async(Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond))
  ms << LATENCIES.pop / 1e6
  sleep(rand * 0.02)
end
ms.sort!
q = ->(p) { ms[[ms.size - 1, (p * ms.size).to_i].min] }
puts format('%d jobs: p50 %.2f ms, p99 %.2f ms, max %.2f ms', ms.size, q.call(0.5), q.call(0.99), ms.last)
launcher.stop
exit!(0)
