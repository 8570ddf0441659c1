from components.monitor.monitor import MonitorResult, run_monitoring

__all__ = ["MonitorResult", "run_monitoring"]
