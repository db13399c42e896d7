# Answers quickly, streams slowly on /stream, and reads bodies on /upload.
run lambda { |env|
  case env['PATH_INFO']
  when '/stream'
    body = Enumerator.new { |y| 200.times { y << ('x' * 65_536) } }
    [200, { 'content-type' => 'application/octet-stream' }, body]
  when '/upload'
    [200, { 'content-type' => 'text/plain' }, [env['rack.input'].read.bytesize.to_s]]
  else
    [200, { 'content-type' => 'text/plain' }, ['ok']]
  end
}
