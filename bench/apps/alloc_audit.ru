# frozen_string_literal: true

# Rackup for bench/alloc_audit.rb. GET / is exactly bench/apps/hello.ru; the
# dispatch in front of it compares PATH_INFO with frozen literals and allocates
# nothing. Two probe paths report the process-wide allocation counter:
#   /__alloc      GC.stat(:total_allocated_objects) at the moment the app runs
#   /__alloc_app  objects the hello lambda itself allocates per call, measured
#                 in-process by calling it 10_000 times on a copy of the env
HELLO = ->(_env) { [200, { 'content-type' => 'text/plain' }, ['hello']] }

run lambda { |env|
  case env['PATH_INFO']
  when '/__alloc'
    [200, { 'content-type' => 'text/plain' }, [GC.stat(:total_allocated_objects).to_s]]
  when '/__alloc_app'
    copy = env.dup
    calls = 10_000
    before = GC.stat(:total_allocated_objects)
    calls.times { HELLO.call(copy) }
    after = GC.stat(:total_allocated_objects)
    [200, { 'content-type' => 'text/plain' }, [format('%.2f', (after - before).fdiv(calls))]]
  else
    HELLO.call(env)
  end
}
