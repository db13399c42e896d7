# frozen_string_literal: true

# The "prebuilt route" workload: GET / is registered with
# Hyperion::Server.handle_static (a later feature) and answered without calling
# Ruby; everything else falls through to the Rack app below (404).
# run.sh probes this rackup first: 200 "hello" means the feature exists,
# 501 means it does not exist yet (the workload is then reported as n/a).
if defined?(Hyperion::Server) && Hyperion::Server.respond_to?(:handle_static)
  begin
    Hyperion::Server.handle_static(:GET, '/', 'hello')
    run ->(_env) { [404, { 'content-type' => 'text/plain' }, ["not found\n"]] }
  rescue StandardError => e
    message = "handle_static raised #{e.class}: #{e.message}\n"
    run ->(_env) { [500, { 'content-type' => 'text/plain' }, [message]] }
  end
else
  run ->(_env) { [501, { 'content-type' => 'text/plain' }, ["Hyperion::Server.handle_static is not implemented\n"]] }
end
