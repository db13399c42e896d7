# frozen_string_literal: true

require_relative 'support/harness'

# A Gemfile beside the rackup is honoured (as Puma does), and `bundle exec
# hyperion` works through RUBYOPT. The lockfile is resolved from the gems
# Debian installed (`bundle lock --local`), so nothing is downloaded.
class BundlerTest < Minitest::Test
  include E2E::Helpers

  def setup
    @app_dir = Dir.mktmpdir('hyperion-bundled')
    FileUtils.cp(E2E.app('bundled'), @app_dir)
    File.write(File.join(@app_dir, 'Gemfile'), "source 'https://rubygems.org'\ngem 'rack'\n")
    out = IO.popen(%w[bundle lock --local], chdir: @app_dir, err: %i[child out], &:read)
    assert $?.success?, "bundle lock failed: #{out}"
  end

  def teardown
    super
    FileUtils.rm_rf(@app_dir)
  end

  def test_gemfile_beside_the_rackup_is_used
    server = start_server(File.join(@app_dir, 'config.ru'), chdir: @app_dir)
    body = server.http('/').body
    assert_match(/bundler=yes/, body)
    assert_match(/\bgems=.*\brack\b/, body)
    refute_match(/sinatra|rails/, body, 'only the Gemfile\'s gems should be activated')
  end

  def test_bundle_exec
    env = { 'BUNDLE_GEMFILE' => File.join(@app_dir, 'Gemfile') }
    s = start_server(File.join(@app_dir, 'config.ru'), chdir: @app_dir, env: env, wrapper: %w[bundle exec])
    assert_match(/bundler=yes/, s.http('/').body)
  end
end
