# frozen_string_literal: true

# The response shapes a real Rails 6.1 app produces: redirects, 4xx with a
# body, head, conditional GET, send_file, UTF-8 form params, an exception,
# and ActionController::Live. Rails' own response body answers to_ary with
# nil, so every one of these goes through the server's `each` path.
require 'action_controller/railtie'
require 'logger'

class RailsShapesApp < Rails::Application
  config.root = __dir__
  config.eager_load = false
  config.secret_key_base = 'shapes' * 16
  config.hosts.clear
  config.logger = Logger.new($stdout)
  config.log_level = :info
  config.consider_all_requests_local = false
  config.active_support.deprecation = :silence
  config.action_dispatch.show_exceptions = true
end

RailsShapesApp.initialize!

class ShapesController < ActionController::Base
  def redirect
    redirect_to '/target'
  end

  def unprocessable
    render plain: 'name can’t be blank', status: :unprocessable_entity
  end

  def missing
    render plain: 'no such widget', status: :not_found
  end

  def no_content
    head :no_content
  end

  def cached
    fresh_when etag: 'widget-v1', last_modified: Time.utc(2024, 1, 2), public: true
    render plain: 'cached widget' unless performed?
  end

  def download
    send_file ENV.fetch('SHAPES_FILE'), type: 'application/octet-stream', filename: 'blob.bin'
  end

  def form
    name = params[:name].to_s
    render plain: "name=#{name} encoding=#{name.encoding} chars=#{name.length}"
  end

  def boom
    raise ArgumentError, 'kaboom from a controller'
  end

  def log_line
    logger.info("controller log line #{params[:n]}")
    render plain: 'logged'
  end
end

class EventsController < ActionController::Base
  include ActionController::Live

  def index
    response.headers['Content-Type'] = 'text/event-stream'
    # Rack 2.2's ETag middleware (in Rails 6.1's stack) buffers any body to
    # digest it unless Last-Modified is set; Puma streams nothing either
    # without this. The usual Rails 6.1 workaround:
    response.headers['Last-Modified'] = Time.now.httpdate
    3.times do |i|
      response.stream.write("data: event #{i}\n\n")
      sleep 0.4
    end
  ensure
    response.stream.close
  end
end

RailsShapesApp.routes.draw do
  get '/redirect', to: 'shapes#redirect'
  post '/unprocessable', to: 'shapes#unprocessable'
  get '/missing', to: 'shapes#missing'
  delete '/no_content', to: 'shapes#no_content'
  get '/cached', to: 'shapes#cached'
  get '/download', to: 'shapes#download'
  post '/form', to: 'shapes#form'
  get '/boom', to: 'shapes#boom'
  get '/log_line', to: 'shapes#log_line'
  get '/events', to: 'events#index'
end

run RailsShapesApp
