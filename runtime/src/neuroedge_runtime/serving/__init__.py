"""Protocol adapters: they translate a wire protocol (OpenAI's) to and from the engines, which never see
HTTP."""
