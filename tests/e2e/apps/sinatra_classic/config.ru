# Classic-style Sinatra, as its README shows it: top-level routes on
# Sinatra::Application, whose default logging builds a Logger on rack.errors.
require 'sinatra'

set :logging, true

get '/' do
  logger.info('classic sinatra says hello')
  'hello from classic sinatra'
end

get '/greet/:name' do
  "héllo #{params[:name]}"
end

run Sinatra::Application
