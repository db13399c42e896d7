# frozen_string_literal: true

require 'sinatra/base'
require 'json'

class E2ESinatraApp < Sinatra::Base
  set :environment, :production
  set :logging, false

  get '/hello/:name' do
    content_type :text
    "hello #{params[:name]} from sinatra (q=#{params[:q]})"
  end

  post '/items' do
    content_type :json
    status 201
    JSON.generate(name: params[:name], count: Integer(params[:count]) * 2, raw_body_size: request.body.read.bytesize)
  end
end

run E2ESinatraApp
