# frozen_string_literal: true

# Used by prebuilt_routes_test.rb: routes the event loop answers itself
# (handle_static), light Ruby routes (handle), and an app for everything else
# that names itself and its pid.
require 'json'

Hyperion::Server.handle_static(:GET, '/health', "OK\n", content_type: 'text/plain', headers: { 'x-a' => 'b' })
Hyperion::Server.handle_static(:get, '/lower', "lower case method\n", content_type: 'text/plain')
Hyperion::Server.handle_static(:GET, '/twice', "first\n", content_type: 'text/plain')
Hyperion::Server.handle_static(:GET, '/twice', "second registration\n", content_type: 'text/html',
                                                                       headers: { 'x-which' => 'second' })

read_body = ->(body) { body.respond_to?(:read) ? body.read : body }

Hyperion::Server.handle(:GET, '/probe', lambda { |req|
  fields = [req.method, req.path, req.query, req.headers['x-test'], read_body.call(req.body)]
  [200, { 'content-type' => 'application/json' }, [JSON.generate(fields)]]
})
Hyperion::Server.handle(:POST, '/submit', lambda { |req|
  fields = [req.method, req.path, req.query, req.headers['x-test'], read_body.call(req.body)]
  [201, { 'content-type' => 'application/json', 'x-handler' => 'submit' }, [JSON.generate(fields)]]
})
Hyperion::Server.handle(:GET, '/boom', ->(_req) { raise 'handler blew up on purpose' })

run lambda { |env|
  case env['PATH_INFO']
  when '/slow'
    sleep 2
    [200, { 'content-type' => 'text/plain' }, ['slow done']]
  when '/sleep03'
    sleep 0.3
    [200, { 'content-type' => 'text/plain' }, ['slept']]
  else
    [200, { 'content-type' => 'text/plain' }, ["APP-MARKER pid=#{Process.pid} #{env['REQUEST_METHOD']} #{env['PATH_INFO']}"]]
  end
}
