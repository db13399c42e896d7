# frozen_string_literal: true

# ActionCable (Debian ruby-actioncable, Rails 6.1) standalone, unmodified:
# its own server mounted as the Rack app, the async adapter, a chat channel
# that broadcasts what one client says to every subscriber.
require 'action_cable'
require 'logger'

module ApplicationCable
  class Connection < ActionCable::Connection::Base; end
  class Channel < ActionCable::Channel::Base; end
end

class ChatChannel < ApplicationCable::Channel
  def subscribed = stream_from("chat_#{params[:room]}")
  def speak(data) = ActionCable.server.broadcast("chat_#{params[:room]}", { 'text' => data['text'], 'from' => data['from'] })
end

ActionCable.server.config.cable = { 'adapter' => 'async' }
ActionCable.server.config.logger = Logger.new($stderr, level: Logger::WARN)
ActionCable.server.config.disable_request_forgery_protection = true
ActionCable.server.config.connection_class = -> { ApplicationCable::Connection }

map('/cable') { run ActionCable.server }
map('/') { run ->(_env) { [200, { 'content-type' => 'text/plain' }, ['cable app']] } }
