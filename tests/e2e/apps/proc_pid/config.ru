# frozen_string_literal: true

# Answers with the pid of the process that served the request.
run(lambda do |env|
  case env['PATH_INFO']
  when '/slow'
    sleep 2
    [200, { 'content-type' => 'text/plain' }, ["slow done by #{Process.pid}"]]
  when '/hold' # keeps a thread busy briefly: tests that every worker takes load
    sleep 0.3
    [200, { 'content-type' => 'text/plain' }, [Process.pid.to_s]]
  when '/sleep10'
    sleep 10
    [200, { 'content-type' => 'text/plain' }, ['too late']]
  else
    [200, { 'content-type' => 'text/plain' }, [Process.pid.to_s]]
  end
end)
