# frozen_string_literal: false
# Captures the bytes real Ruby Resque writes for one job enqueued with arguments of each
# shape (no arguments, a list, one hash, a scalar, nested values), for the golden test
# crates/store/tests/arg_shapes.rs. Each call is Resque.enqueue_to('shapes', 'Shaped', ...)
# through the public API, read back with LINDEX.
#
#   REDIS_URL=redis://127.0.0.1:PORT/0 ruby -I"$RESQUE_RB_SRC/lib" \
#     scripts/ruby/capture_arg_shapes.rb > crates/protocol/tests/fixtures/22_arg_shapes.json
#
# Needs RESQUE_RB_SRC (an extracted resque 3.0 tree) and Debian's ruby-redis,
# ruby-redis-namespace, ruby-mono-logger and ruby-multi-json.
require 'json'
require 'redis'
require 'redis/namespace'
require 'resque'

url = ENV.fetch('REDIS_URL') { abort 'REDIS_URL must be set (never a default server)' }
Resque.redis = Redis::Namespace.new('resque', redis: Redis.new(url: url))

CASES = [
  ['none', 'Resque.enqueue(Shaped)', []],
  ['list', "Resque.enqueue(Shaped, 44, 'masterbrew')", [44, 'masterbrew']],
  ['one_list', 'Resque.enqueue(Shaped, [1, 2, 3])', [[1, 2, 3]]],
  ['many', 'Resque.enqueue(Shaped, 1, 2, 3)', [1, 2, 3]],
  ['hash', "Resque.enqueue(Shaped, user_id: 5, plan: 'pro')", [{ user_id: 5, plan: 'pro' }]],
  ['hash_order', "Resque.enqueue(Shaped, 'b' => 1, 'a' => 2)", [{ 'b' => 1, 'a' => 2 }]],
  ['nested', "Resque.enqueue(Shaped, name: 'café ☃', score: 1.5, tags: ['a', 'b'], parent: nil, at: 1733011200.123456)",
   [{ name: 'café ☃', score: 1.5, tags: %w[a b], parent: nil, at: 1733011200.123456 }]],
  ['number', 'Resque.enqueue(Shaped, 5)', [5]],
  ['string', "Resque.enqueue(Shaped, 'x')", ['x']],
  ['variant_name', "Resque.enqueue(Shaped, 'Fast')", ['Fast']],
  ['variant_hash', "Resque.enqueue(Shaped, 'Slow' => { 'by' => 3 })", [{ 'Slow' => { 'by' => 3 } }]],
  ['list_with_hash', "Resque.enqueue(Shaped, 7, { 'dry_run' => true })", [7, { 'dry_run' => true }]]
].freeze

out = CASES.map do |name, call, args|
  Resque.remove_queue('shapes')
  Resque.enqueue_to('shapes', 'Shaped', *args)
  { 'name' => name, 'ruby' => call, 'payload' => Resque.redis.lindex('queue:shapes', 0) }
end
Resque.remove_queue('shapes')

puts JSON.pretty_generate(
  'captured_with' => "ruby #{RUBY_VERSION}, resque #{Resque::VERSION}, multi_json #{MultiJson.adapter}: " \
                     "Resque.enqueue_to('shapes', 'Shaped', *args), then LINDEX",
  'cases' => out
)
