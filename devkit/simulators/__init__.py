"""Loopback stand-ins for the hosted LLM APIs: real HTTP servers speaking the OpenAI and Anthropic protocols."""
