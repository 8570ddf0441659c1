"""The development kit: everything that exists only for the embedded default and the demo.

Provider simulators (loopback OpenAI/Anthropic wire protocol), synthetic customer traffic, the offline
stand-in base model, process supervision, seeding and the demo loop. Production images and packages do
not need it: it sits above the domain (`hibachi`) and the parts (`gateway`, `serving`, `components`,
`pipelines`) and nothing below imports it.
"""
