"""What runs beside the product, never in the Lambda layer: the `marketing` CLI, the embedded local
stack (moto, its fixes, the event-source pollers running the real handlers), the demo and the file
readers. Depends on the runtime package `marketing`; nothing in `marketing` imports it."""
