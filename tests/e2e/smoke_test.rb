# frozen_string_literal: true

require_relative 'support/harness'

class SmokeTest < Minitest::Test
  include E2E::Helpers

  def test_serves_hello_over_net_http
    server = start_server(E2E.app('hello'))
    response = server.http('/')
    assert_equal '200', response.code
    assert_equal 'hello', response.body
    assert_equal 'hyperion', response['server']
    refute_nil response['date']
  end

  def test_term_exits_zero
    server = start_server(E2E.app('hello'))
    status = server.stop('TERM')
    assert status.success?, "exit status #{status.inspect}\n#{server.log}"
  end
end
