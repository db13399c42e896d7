# frozen_string_literal: true

require_relative 'support/process_helpers'

# Real frameworks on top of the server: Sinatra 3 and a Rails 6.1 app
# defined in its rackup.
class FrameworksTest < Minitest::Test
  include E2E::Helpers

  # Rails takes a few seconds to boot (more under sanitizers).
  BOOT_TIMEOUT = E2E::SLOW > 1 ? 180 : 60

  def boot(app)
    server = start_server(E2E.app(app), wait: false)
    server.wait_until_ready(timeout: BOOT_TIMEOUT)
    server
  end

  def test_sinatra_get_route_with_params
    server = boot('sinatra_app')
    response = server.http('/hello/world?q=42')
    assert_equal '200', response.code, response.body
    assert_equal 'hello world from sinatra (q=42)', response.body
    assert_equal 'text/plain;charset=utf-8', response['content-type']
    assert_equal '404', server.http('/nope').code
  end

  def test_sinatra_post_route_with_form_params
    server = boot('sinatra_app')
    response = server.http('/items', method: :post, body: 'name=widget&count=21',
                                     headers: { 'Content-Type' => 'application/x-www-form-urlencoded' })
    assert_equal '201', response.code, response.body
    assert_equal 'application/json', response['content-type']
    assert_equal({ 'name' => 'widget', 'count' => 42, 'raw_body_size' => 20 }, JSON.parse(response.body))
  end

  def test_rails_plain_text_json_and_post
    server = boot('rails_app')
    response = server.http('/greet/ada')
    assert_equal '200', response.code, "#{response.body}\n#{server.log}"
    assert_equal 'hello ada from rails 6.1.7.10', response.body
    assert_equal 'text/plain; charset=utf-8', response['content-type']

    response = server.http('/data?a=40&b=2')
    assert_equal '200', response.code, response.body
    assert_equal 'application/json; charset=utf-8', response['content-type']
    assert_equal({ 'framework' => 'rails', 'sum' => 42, 'method' => 'GET' }, JSON.parse(response.body))

    response = server.http('/messages', method: :post, body: JSON.generate(message: 'hi there'),
                                        headers: { 'Content-Type' => 'application/json' })
    assert_equal '201', response.code, response.body
    assert_equal({ 'received' => 'hi there', 'length' => 22 }, JSON.parse(response.body))

    assert_equal '404', server.http('/missing').code
  end
end
