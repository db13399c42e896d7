# frozen_string_literal: true

# A whole Rails 6.1 application in one rackup.
require 'action_controller/railtie'
require 'logger'

class E2ERailsApp < Rails::Application
  config.root = __dir__
  config.eager_load = false
  config.secret_key_base = 'e2e' * 32
  config.hosts.clear
  config.logger = Logger.new($stderr)
  config.log_level = :warn
  config.consider_all_requests_local = false
  config.active_support.deprecation = :silence
end

E2ERailsApp.initialize!

class GreetingsController < ActionController::Base
  def show
    render plain: "hello #{params[:name]} from rails #{Rails.version}"
  end

  def data
    render json: { framework: 'rails', sum: params[:a].to_i + params[:b].to_i, method: request.request_method }
  end

  def create
    render json: { received: params[:message], length: request.raw_post.bytesize }, status: :created
  end
end

E2ERailsApp.routes.draw do
  get '/greet/:name', to: 'greetings#show'
  get '/data', to: 'greetings#data'
  post '/messages', to: 'greetings#create'
end

run E2ERailsApp
