# frozen_string_literal: true

require_relative 'support/process_helpers'

# Hyperion.on_request_start { |env| } and Hyperion.on_request_end { |env,
# status, duration, error| } (config file: on_request_start / on_request_end),
# the hooks APM agents attach to: run in order around app.call, see the env
# the app sees, the status, app.call's time and the error; a hook that raises
# is logged and the request goes on.
class RequestHooksTest < Minitest::Test
  include E2E::Helpers

  DIR = File.dirname(E2E.app('request_hooks'))
  APP = File.join(DIR, 'config.ru')

  def test_hooks_run_in_order_around_the_app
    server = start_server(APP)
    response = server.http('/ok')
    assert_equal '200', response.code, server.log
    assert_equal 'first,second', response.body, 'start hooks ran in order, before app.call, on its env'
    await_log(server, %r{request_end /ok status=200 error=nil order=first,second})
    await_log(server, %r{second end hook saw /ok})
  end

  def test_end_hook_sees_the_apps_error
    server = start_server(APP)
    server.allow_problem(/app error/)
    assert_equal '500', server.http('/raise').code
    await_log(server, %r{request_end /raise status=500 error=ArgumentError order=first,second})
  end

  def test_end_hook_gets_the_status_and_the_apps_time
    server = start_server(APP)
    assert_equal '201', server.http('/slow').code
    match = await_log(server, %r{request_end /slow status=201 error=nil order=first,second duration=(\d+\.\d+)})
    assert_operator Float(match[1]), :>=, 0.2, 'the duration covers app.call (it sleeps 0.2 s)'
    assert_operator Float(match[1]), :<, 5
  end

  def test_a_raising_hook_is_logged_and_the_request_goes_on
    server = start_server(APP)
    response = server.http('/hook_raises')
    assert_equal '200', response.code, server.log
    assert_equal 'first,second', response.body
    await_log(server, %r{on_request_start hook \(.*request_hooks/config\.ru:\d+\) failed: RuntimeError: a broken agent})
    await_log(server, %r{request_end /hook_raises status=200 error=nil})
  end

  def test_config_file_hooks_run_in_every_worker
    server = start_server(APP, workers: 2, args: ['-C', File.join(DIR, 'hyperion.rb')])
    pids = server.worker_pids
    4.times { assert_equal '200', server.http('/ok').code }
    match = await_log(server, %r{config end hook /ok 200 in (\d+)})
    assert_includes pids, Integer(match[1]), 'the hook ran in a worker'
    assert_match(%r{request_end /ok status=200}, server.log, 'the app\'s hooks still run')
  end

  def test_hooks_run_for_http2_requests
    skip 'curl without HTTP/2' unless `curl --version`.include?('HTTP2')
    server = start_server(APP)
    out, status = Open3.capture2('curl', '-s', '--http2-prior-knowledge', server.url('/h2'))
    assert status.success?, server.log
    assert_equal 'first,second', out
    await_log(server, %r{request_end /h2 status=200 error=nil})
  end
end
