# Jobs for Ruby Resque's worker in our comparison runs, the same as resque-rs's test worker's:
# ChaosJob (scripts/chaos.sh with RESQUE_RB_SRC set) logs its start and its end to HOOK_LOG,
# one write(2) a line, and takes `ms` milliseconds; LatencyJob (scripts/bench-latency.sh)
# logs how long after its enqueue (nanoseconds since the epoch) it started.
class ChaosJob
  @queue = :chaos

  def self.log(line)
    File.open(ENV.fetch('HOOK_LOG'), 'a') { |f| f.syswrite("#{line}\n") }
  end

  def self.perform(n, ms)
    log("start #{n} #{Process.pid}")
    sleep(ms / 1000.0)
    log("done #{n} #{Process.pid}")
  end
end

class LatencyJob
  @queue = :latency

  def self.perform(enqueued_ns)
    now = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
    ChaosJob.log("pickup #{now - enqueued_ns}")
  end
end
