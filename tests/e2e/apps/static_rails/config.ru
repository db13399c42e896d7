# frozen_string_literal: true

# Used by static_files_test.rb: a minimal Rails 6.1 app whose root (and so
# public/) is $RAILS_ROOT_DIR. Rails' own public file server is off, so a
# file under public/ can only be answered by Hyperion's preloaded static layer.
require 'action_controller/railtie'
require 'logger'

class E2EStaticRailsApp < Rails::Application
  config.root = ENV.fetch('RAILS_ROOT_DIR')
  config.eager_load = false
  config.secret_key_base = 'e2e' * 32
  config.hosts.clear
  config.logger = Logger.new($stderr)
  config.log_level = :warn
  config.consider_all_requests_local = false
  config.active_support.deprecation = :silence
  config.public_file_server.enabled = false
end

E2EStaticRailsApp.initialize!

class MarkerController < ActionController::Base
  def show
    render plain: 'RAILS-MARKER'
  end
end

E2EStaticRailsApp.routes.draw do
  get '/marker', to: 'marker#show'
end

run E2EStaticRailsApp
