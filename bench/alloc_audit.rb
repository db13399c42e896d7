#!/usr/bin/env ruby
# frozen_string_literal: true

# Ruby objects allocated per request for the Rack hello app, measured inside the
# server process (docs/BENCHMARKS.md, "Allocations per request").
#
#   ruby bench/alloc_audit.rb [--server hyperion|puma] [--requests N] [--port P] [--hyperion PATH]
#
# Method: the server runs bench/apps/alloc_audit.ru. A client on one keep-alive
# connection sends the same request line wrk sends (GET / with only a Host
# header). It reads the process-wide GC.stat(:total_allocated_objects) through
# GET /__alloc before and after N hello requests. The counter delta also holds
# one probe request's own cost (everything between the two counter reads other
# than the N hellos); that cost is measured by two back-to-back probes with
# nothing in between and subtracted. What is left, divided by N, is the objects
# allocated per hello request by the server plus the app. The app's own share
# is measured in-process (GET /__alloc_app) and reported separately.

require 'optparse'
require 'socket'
require 'tmpdir'

ROOT = File.expand_path('..', __dir__)
opts = { server: 'hyperion', requests: 20_000, port: nil, rounds: 5,
         hyperion: File.join(ROOT, 'build/release/hyperion') }
OptionParser.new do |o|
  o.banner = 'usage: ruby bench/alloc_audit.rb [options]'
  o.on('--server NAME', %w[hyperion puma], 'hyperion (default) or puma') { |v| opts[:server] = v }
  o.on('--requests N', Integer, 'hello requests per measurement (default 20000)') { |v| opts[:requests] = v }
  o.on('--rounds N', Integer, 'measurements; the median is reported (default 5)') { |v| opts[:rounds] = v }
  o.on('--port N', Integer, 'port (default: a free one)') { |v| opts[:port] = v }
  o.on('--hyperion PATH', 'hyperion binary') { |v| opts[:hyperion] = File.expand_path(v) }
end.parse!

port = opts[:port] || TCPServer.open('127.0.0.1', 0) { |s| s.addr[1] }
rackup = File.join(ROOT, 'bench/apps/alloc_audit.ru')
command =
  case opts[:server]
  when 'hyperion'
    [opts[:hyperion], '-w', '1', '-t', '5', '-e', 'production', '-b', "tcp://127.0.0.1:#{port}", '--no-access-log', rackup]
  when 'puma'
    ['puma', '-t', '5:5', '-e', 'production', '-b', "tcp://127.0.0.1:#{port}", rackup]
  end

# One keep-alive HTTP/1.1 connection speaking just enough of the protocol.
class Client
  def initialize(port)
    @sock = TCPSocket.new('127.0.0.1', port)
    @sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    @host = "127.0.0.1:#{port}"
    @buf = +''
  end

  def get(path)
    @sock.write("GET #{path} HTTP/1.1\r\nHost: #{@host}\r\n\r\n")
    head = read_until("\r\n\r\n")
    status = head[/\AHTTP\/1\.[01] (\d{3})/, 1].to_i
    body =
      if (length = head[/^content-length:\s*(\d+)/i, 1])
        read_bytes(length.to_i)
      elsif head =~ /^transfer-encoding:\s*chunked/i
        read_chunked
      else
        raise "response without a length: #{head.inspect}"
      end
    raise "GET #{path}: HTTP #{status}" unless status == 200

    body
  end

  def close = @sock.close

  private

  def fill = @buf << @sock.readpartial(65_536)

  def read_until(marker)
    fill until (i = @buf.index(marker))
    @buf.slice!(0, i + marker.bytesize)
  end

  def read_bytes(n)
    fill while @buf.bytesize < n
    @buf.slice!(0, n)
  end

  def read_chunked
    body = +''
    loop do
      size = read_until("\r\n").to_i(16)
      body << read_bytes(size) if size.positive?
      read_until("\r\n")
      return body if size.zero?
    end
  end
end

def median(values) = values.sort[values.size / 2]

pid = nil
log = File.join(Dir.tmpdir, "hyperion-alloc-audit-#{Process.pid}.log")
begin
  pid = Process.spawn(*command, chdir: Dir.tmpdir, pgroup: true, out: log, err: log, in: File::NULL)
  deadline = Time.now + 30
  client = nil
  until client
    raise "#{opts[:server]} exited during boot:\n#{File.read(log)}" if Process.wait(pid, Process::WNOHANG)
    raise "#{opts[:server]} not answering after 30 s (log: #{log})" if Time.now > deadline

    begin
      if opts[:server] != 'hyperion' || File.read(log).include?('worker 0 ready')
        client = Client.new(port)
        client.get('/') # answered: the app is loaded
      end
    rescue SystemCallError, EOFError, IOError
      client&.close
      client = nil
    end
    sleep 0.1 unless client
  end

  n = opts[:requests]
  n.times { client.get('/') } # warm-up: method caches, lazily built server state
  counter = -> { Integer(client.get('/__alloc')) }

  probe_costs = Array.new(opts[:rounds] * 2) { a = counter.call; counter.call - a }
  probe_cost = median(probe_costs)

  per_request = Array.new(opts[:rounds]) do
    before = counter.call
    n.times { client.get('/') }
    (counter.call - before - probe_cost).fdiv(n)
  end
  total = median(per_request)
  app = Float(client.get('/__alloc_app'))
  client.close

  puts "server:              #{opts[:server]} (#{command.first(command.size - 1).join(' ')} ...)"
  puts "requests:            #{opts[:rounds]} rounds x #{n} keep-alive GET / (wrk's request: Host header only)"
  puts "probe cost:          #{probe_cost} objects (median of #{probe_costs.size}: #{probe_costs.minmax.join('..')})"
  puts "per request (total): #{format('%.2f', total)} objects (rounds: #{per_request.map { |v| format('%.2f', v) }.join(', ')})"
  puts "app itself:          #{format('%.2f', app)} objects per call (the hello lambda's response Array, headers Hash, body Array)"
  puts "server:              #{format('%.2f', total - app)} objects per request"
  puts format('RESULT server=%s total=%.2f app=%.2f server_only=%.2f', opts[:server], total, app, total - app)
ensure
  if pid
    begin
      Process.kill('TERM', -pid)
      unless (20 * 10).times.any? { sleep 0.05; Process.wait(pid, Process::WNOHANG) }
        Process.kill('KILL', -pid)
        Process.wait(pid)
      end
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    end
    # The worker may outlive the master for a moment: wait for the whole group.
    50.times do
      Process.kill(0, -pid)
      sleep 0.05
    rescue Errno::ESRCH
      break
    end
  end
  File.delete(log) if File.exist?(log) && !$! # kept (and named in the error) when something failed
end
