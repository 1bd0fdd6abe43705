// The product service itself is not the point of the demo: a tiny HTTP server
// so the image is an app image like any other. Its migrations are in
// dist/migrations, which the operator copies into the migration Jobs.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ service: 'product-service', path: req.url }));
}).listen(port, () => console.log(`product-service listening on :${port}`));
