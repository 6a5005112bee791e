# The chaos run's job for Ruby Resque's worker (scripts/chaos.sh with RESQUE_RB_SRC set):
# the same as resque-rs's test worker's ChaosJob. It logs its start and its end to HOOK_LOG,
# one write(2) a line, and takes `ms` milliseconds.
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
