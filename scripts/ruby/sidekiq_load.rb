# frozen_string_literal: false
# Sidekiq's own load shape (its bin/sidekiqload): push N no-op jobs in bulk, start a
# launcher with CONCURRENCY threads in this process, and time the drain, polling the queue
# length every 20 ms (sidekiqload polls every 200 ms). No toxiproxy or bundler: REDIS_URL
# may point at resque-rs's delay proxy for added latency. Only its own namespace-free keys
# in the private server's db are touched (no FLUSHDB).
#
#   REDIS_URL=redis://127.0.0.1:PORT/0 JOBS=100000 CONCURRENCY=30 ruby scripts/ruby/sidekiq_load.rb
#
# Prints one JSON line: {"jobs":N,"concurrency":C,"elapsed_s":..,"jobs_per_s":..}
require 'json'
require 'redis'
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)
require 'sidekiq'
# As sidekiqload: with the CLI loaded, Sidekiq configures itself as a server.
require 'sidekiq/cli'
require 'sidekiq/launcher'

url = ENV.fetch('REDIS_URL') { abort 'REDIS_URL must be set (never a default server)' }
jobs = Integer(ENV.fetch('JOBS', '100000'))
concurrency = Integer(ENV.fetch('CONCURRENCY', '10'))

# Concurrency first: setting the pool checks its size against it.
Sidekiq.options[:concurrency] = concurrency
Sidekiq.redis = { url: url, size: concurrency + 5 }
Sidekiq.options[:queues] = ['default']
Sidekiq.logger.level = Logger::ERROR

class LoadWorker
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(_idx); end
end

Sidekiq.redis { |c| c.del('queue:default') }
jobs.times.each_slice(10_000) do |slice|
  Sidekiq::Client.push_bulk('class' => LoadWorker, 'args' => slice.map { |i| [i] })
end

launcher = Sidekiq::Launcher.new(Sidekiq.options)
start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
launcher.run
loop do
  sleep 0.02
  break if Sidekiq.redis { |c| c.llen('queue:default') }.zero?
end
# The last jobs taken may still be running: wait until no processor is busy.
loop do
  busy = Sidekiq::Workers.new.size
  break if busy.zero?
  sleep 0.005
end
elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
puts JSON.generate('jobs' => jobs, 'concurrency' => concurrency,
                   'elapsed_s' => elapsed.round(3), 'jobs_per_s' => (jobs / elapsed).round)
launcher.stop
exit!(0)
