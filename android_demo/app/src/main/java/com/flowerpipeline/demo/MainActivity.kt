package com.flowerpipeline.demo

import android.Manifest
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Bundle
import android.os.SystemClock
import android.util.Size
import android.view.OrientationEventListener
import android.view.View
import android.widget.AdapterView
import android.widget.Button
import android.widget.ImageView
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import androidx.core.view.ViewCompat
import androidx.core.view.WindowInsetsCompat
import com.flowerpipeline.demo.core.Failures
import com.flowerpipeline.demo.core.Outcome
import com.flowerpipeline.demo.core.Outputs
import com.flowerpipeline.demo.core.PhotoJob
import com.flowerpipeline.demo.core.Screen
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Camera preview + live classification, a gallery photo on demand, a thread-count setting.
 * Every decision that can be tested on a JVM lives in core/ (Screen, PhotoJob, Failures);
 * this class only wires Android to it. Whatever fails on the worker becomes a line on screen.
 */
class MainActivity : ComponentActivity() {
    // One executor owns the classifier: the interpreter must not be used from two threads.
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var classifier: FlowerClassifier? = null // used on the worker only
    @Volatile private var live = true
    private var modelSize = 0 // UI thread: 0 until a model is loaded
    private var cameraAllowed = false
    private var provider: ProcessCameraProvider? = null
    private var analysis: ImageAnalysis? = null
    private lateinit var preview: PreviewView
    private lateinit var photo: ImageView
    private lateinit var result: TextView
    private lateinit var turns: OrientationEventListener

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        cameraAllowed = granted
        if (granted) startCamera() else result.setText(R.string.no_camera)
    }
    private val pickPhoto = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        uri?.let(::classifyPhoto)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        enableEdgeToEdge() // what Android 15 does anyway for targetSdk 35: pad for the bars ourselves
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        ViewCompat.setOnApplyWindowInsetsListener(findViewById(R.id.root)) { view, insets ->
            val bars = insets.getInsets(WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout())
            view.setPadding(bars.left, bars.top, bars.right, bars.bottom)
            WindowInsetsCompat.CONSUMED
        }
        preview = findViewById(R.id.preview)
        photo = findViewById(R.id.photo)
        result = findViewById(R.id.result)
        findViewById<Button>(R.id.gallery).setOnClickListener { pickPhoto.launch("image/*") }
        findViewById<Button>(R.id.camera).setOnClickListener { showCamera() }
        findViewById<Spinner>(R.id.threads).onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) =
                loadClassifier(parent.getItemAtPosition(position).toString().toInt())
            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
        // The activity is portrait-locked, so the display never turns: the sensor says how the
        // phone is held, and the analysis frames are turned upright for that.
        turns = object : OrientationEventListener(this) {
            override fun onOrientationChanged(degrees: Int) {
                Screen.targetRotation(degrees)?.let { analysis?.targetRotation = it }
            }
        }
        cameraAllowed = ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED
        if (!cameraAllowed) askCamera.launch(Manifest.permission.CAMERA)
    }

    override fun onStart() {
        super.onStart()
        turns.enable()
    }

    override fun onStop() {
        turns.disable()
        super.onStop()
    }

    /** (Re)creates the interpreter with `threads` threads, on the worker; a failure is a message. */
    private fun loadClassifier(threads: Int) = worker.execute {
        if (classifier?.threads == threads) return@execute
        classifier?.close()
        classifier = null
        when (val loaded = Failures.guard("Model") { Outcome.Shown(FlowerClassifier(this, threads), "") }) {
            is Outcome.Shown -> {
                classifier = loaded.photo
                val size = loaded.photo.inputSize
                runOnUiThread { modelSize = size; startCamera() }
            }
            is Outcome.Failed -> post(loaded.message + "\n" + getString(R.string.model_hint))
        }
    }

    /** Once both the permission and the model (whose size sets the analysis size) are there. */
    private fun startCamera() {
        if (!cameraAllowed || modelSize == 0 || provider != null) return
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            provider = future.get()
            bindCamera()
        }, ContextCompat.getMainExecutor(this))
    }

    private fun bindCamera() {
        val cameras = provider ?: return
        try {
            val lens = listOf(CameraSelector.DEFAULT_BACK_CAMERA, CameraSelector.DEFAULT_FRONT_CAMERA)
                .firstOrNull { cameras.hasCamera(it) } ?: return result.setText(R.string.no_camera_device)
            val (w, h) = Screen.analysisSize(modelSize)
            val resolution = ResolutionSelector.Builder()
                .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY)
                .setResolutionStrategy(ResolutionStrategy(Size(w, h), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER))
                .build()
            val frames = ImageAnalysis.Builder()
                .setResolutionSelector(resolution)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            frames.setAnalyzer(worker, ::analyze)
            val previewCase = Preview.Builder().build().also { it.setSurfaceProvider(preview.surfaceProvider) }
            cameras.unbindAll()
            cameras.bindToLifecycle(this, lens, previewCase, frames)
            analysis = frames
        } catch (e: Exception) { // CameraInfoUnavailableException, or no camera fits the use cases
            result.text = Failures.message("Camera", e)
        }
    }

    /** The camera stops while a photo is shown: no frames to convert, no battery spent. */
    private fun pauseCamera() {
        analysis?.clearAnalyzer()
        analysis = null
        provider?.unbindAll()
    }

    /**
     * On the worker; the frame is closed in all cases so the camera keeps delivering. The
     * RGBA plane goes to the tensor directly (no bitmap), turned by the frame's rotation.
     */
    private fun analyze(frame: ImageProxy) {
        frame.use {
            val model = classifier
            if (!live || model == null) return
            val start = SystemClock.elapsedRealtimeNanos()
            val shown = Failures.guard("Camera frame") {
                val plane = it.planes[0]
                val c = model.classifyFrame(plane.buffer, it.width, it.height, plane.rowStride, it.imageInfo.rotationDegrees)
                Outcome.Shown(Unit, describe(c, start))
            }
            post(if (shown is Outcome.Shown) shown.text else (shown as Outcome.Failed).message)
        }
    }

    private fun classifyPhoto(uri: Uri) {
        live = false
        pauseCamera()
        val metrics = resources.displayMetrics
        val side = minOf(metrics.widthPixels, metrics.heightPixels)
        worker.execute {
            val model = classifier ?: return@execute post(getString(R.string.model_hint))
            val outcome = PhotoJob(model.inputSize, side).run(UriPhoto(contentResolver, uri)) { argb, w, h, orientation ->
                val start = SystemClock.elapsedRealtimeNanos()
                describe(model.classifyPixels(argb, w, h, orientation), start)
            }
            runOnUiThread {
                when (outcome) {
                    is Outcome.Shown -> {
                        photo.setImageBitmap(outcome.photo)
                        photo.visibility = View.VISIBLE
                        result.text = outcome.text
                    }
                    is Outcome.Failed -> result.text = outcome.message
                }
            }
        }
    }

    private fun showCamera() {
        photo.visibility = View.GONE
        photo.setImageDrawable(null)
        live = true
        bindCamera()
    }

    /** Every head from the file (or "not sure"), then the whole time from `start` beside the model's own. */
    private fun describe(c: Classification, start: Long): String {
        val frameMs = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
        return Outputs.describe(c.heads) + "\n" + Screen.timing(frameMs, c.inferenceMs, c.variant, c.threads)
    }

    private fun post(text: String) = runOnUiThread { result.text = text }

    override fun onDestroy() {
        pauseCamera() // the analyzer is cleared before the worker it runs on shuts down
        worker.execute { classifier?.close(); classifier = null }
        worker.shutdown()
        super.onDestroy()
    }
}
