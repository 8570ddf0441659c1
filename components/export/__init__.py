from components.export.export import ExportResult, export_signals

__all__ = ["ExportResult", "export_signals"]
