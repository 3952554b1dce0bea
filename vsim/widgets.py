"""Watch a run unfold: a notebook widget that steps or plays through its events.

:class:`RunPlayer` takes a run's results and shows, at every step of its
event log (:func:`vsim.experiments.replay.event_log`):

- the simulated time and the event just replayed, with why it happened;
- per host: guests on it, starting, running, and how many are in a phase
  that uses its CPU, disk or network right now (the contention a boot storm
  is made of);
- the control-plane queues (guests waiting in turn at dockerd or libvirtd);
- the guests still starting, each with its phase.

A slider moves to any event, *Play* runs through them, *next event* steps
one at a time. It needs ipywidgets (``pip install 'vsim[notebooks]'``); no
server: it runs in Jupyter, JupyterLab or VS Code. Without a notebook, the
same state is :func:`vsim.experiments.replay.state_at`.

    from vsim.widgets import RunPlayer
    RunPlayer(vsim.simulate(vsim.load_scenario("scenarios/boot-storm.yaml"))).widget
"""

from __future__ import annotations

import html
from typing import Any

from vsim.experiments.replay import event_log, state_at

__all__ = ["RunPlayer"]

_SHOW_GUESTS = 12  # guests listed at once (the ones still starting, most recent first)


class RunPlayer:
    """Step through a run's events in a notebook (see the module docstring).

    ``k`` is how many events have been replayed; :meth:`step` and :meth:`seek`
    move it (the slider and buttons call them), :attr:`state` is the world
    after those ``k`` events and :attr:`widget` the box to display.
    """

    def __init__(self, results: Any, interval_ms: int = 250) -> None:
        try:
            import ipywidgets as w
        except ImportError:  # pragma: no cover - a dev dependency
            from vsim.spec.errors import ScenarioError

            raise ScenarioError("RunPlayer needs ipywidgets: pip install 'vsim[notebooks]'") from None
        self.log = event_log(results)
        n = len(self.log)
        self.k = 0
        self.play = w.Play(value=0, min=0, max=n, step=1, interval=interval_ms, description="play")
        self.slider = w.IntSlider(value=0, min=0, max=n, description="event", continuous_update=True,
                                  layout=w.Layout(width="60%"))
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.next_button = w.Button(description="next event", tooltip="replay one more event")
        self.view = w.HTML()
        self.slider.observe(lambda change: self.seek(change["new"]), names="value")
        self.next_button.on_click(lambda _b: self.step())
        self.widget = w.VBox([w.HBox([self.play, self.slider, self.next_button]), self.view])
        self._draw()

    @property
    def state(self) -> dict[str, Any]:
        """The world after the first :attr:`k` events (:func:`~vsim.experiments.replay.state_at`)."""
        return state_at(self.log, self.k)

    @property
    def replayed(self):
        """The events replayed so far (the first :attr:`k` rows of :attr:`log`)."""
        return self.log.iloc[: self.k]

    def step(self, n: int = 1) -> None:
        """Replay ``n`` more events (the *next event* button)."""
        self.seek(self.k + n)

    def seek(self, k: int) -> None:
        """Show the world after the first ``k`` events."""
        k = max(0, min(int(k), len(self.log)))
        if k == self.k and self.view.value:
            return
        self.k = k
        if self.slider.value != k:
            self.slider.value = k  # calls seek again, which returns at once
        self._draw()

    def _draw(self) -> None:
        s = self.state
        parts = [f"<b>t = {s['time_s']:.3f} s</b>, event {self.k} of {len(self.log)}"]
        if self.k:
            e = self.log.iloc[self.k - 1]
            what = e["event"] + (f" {e['phase']}" if e["phase"] else "")
            parts.append(f"<p><b>{html.escape(str(e['guest']))}</b> ({html.escape(str(e['host']) or 'no host')}): "
                         f"{html.escape(what)} &mdash; {html.escape(str(e['why']))}</p>")
        if len(s["hosts"]):
            parts.append(s["hosts"].to_html(border=0))
        if s["queues"]:
            parts.append("<p>waiting at the control plane: " + ", ".join(
                f"{html.escape(k)} {v}" for k, v in sorted(s["queues"].items())) + "</p>")
        starting = [(gid, g) for gid, g in s["guests"].items() if g["state"] in ("requested", "starting")]
        if starting:
            rows = "".join(f"<tr><td>{html.escape(g['guest'])}</td><td>{html.escape(g['host'])}</td>"
                           f"<td>{html.escape(g['phase'] or '(between phases)')}</td></tr>"
                           for _, g in sorted(starting, reverse=True)[:_SHOW_GUESTS])
            more = f" (the last {_SHOW_GUESTS} of {len(starting)})" if len(starting) > _SHOW_GUESTS else ""
            parts.append(f"<p>starting{more}:</p><table><tr><th>guest</th><th>host</th><th>phase</th></tr>"
                         f"{rows}</table>")
        self.view.value = "\n".join(parts)
